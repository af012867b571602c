"""Write the non-digit set (see `digits.synth.nondigits` for what it draws).

python scripts/make_nondigit_set.py --help
"""

from digits.synth.nondigits import main

if __name__ == "__main__":
    main()
