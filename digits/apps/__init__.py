"""The shells over the package: the command line (`cli`), the JSON service (`service`) and
batch reading of large collections (`batch`). None of them preprocesses or predicts on its
own; each calls `digits.predict` and `digits.read`.
"""
