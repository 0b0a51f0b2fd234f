"""lsq-import: load CSV and Excel spreadsheets into LeadSquared as leads and activities.

The data's path through the package, one module per stage:

    source.py      read a CSV or Excel file as text, in chunks, with spreadsheet row numbers
    config.py      load and check a column-mapping YAML file
    mapping.py     fit the mapping to the file's header; map chunks; build CreateCustom payloads
    convert.py     value conversions, a column at a time (phone.py: phone numbers)
    results.py     write per-row results as they finish
    validation.py  the offline check behind ``lsq-import validate``
    cli.py         the command line
"""

__version__ = "0.1.0"
