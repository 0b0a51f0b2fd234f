"""The account: what LeadSquared says about it (user, host, time zone, lead fields, activity
types), read in every shape its metadata may answer in, and the mapping checked against it.

    metadata.py       the metadata calls; ``preflight``: the account read before a run
    parsers.py        their answers read into the model (model.py: ``Account``)
    preflight.py      the mapping against the account before a row is sent; field_values.py:
                      a column's values against the field behind them
    describe.py       whoami, account, activity-types, fields
    scaffold.py       init-mapping: a starter mapping guessed from a file (scaffold_guess.py)
                      and written as commented YAML (scaffold_text.py)
"""
