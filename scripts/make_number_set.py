"""Write the number benchmark (see `digits.synth.numbers` for what it draws).

python scripts/make_number_set.py --help
"""

from digits.synth.numbers import main

if __name__ == "__main__":
    main()
