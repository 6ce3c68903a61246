"""`python -m api.cli …` runs `timeledger …`."""

from api.cli import main

if __name__ == "__main__":  # imported (a test walking every module), it runs nothing
    main()
