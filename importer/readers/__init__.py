"""Readers: an input file as rows of text, in chunks, with the row numbers a spreadsheet shows.

``source.py`` holds what every reader gives (``Source``, ``Chunk``, ``BadRow``);
``registry.py`` has ``open_source``, which picks the reader for a file from ``READERS`` by what
its first bytes say it is (``kinds.py``: ``sniff``). One reader per kind of file:

    delimited.py     CSV/TSV: the encoding decided on evidence (encoding.py), stray quotes
                     and NUL characters found, rows numbered (csv_stream.py, csv_numbering.py)
    workbook.py      .xlsx/.xlsm, .xlsb, .xls and .ods through python-calamine: the sheet
                     chosen (sheets.py), cells as the sheet shows them (cells.py); what calamine
                     drops comes from one extras module per kind, plugged in at
                     ``workbook.EXTRAS`` (and ``MERGES``): xlsx_extras.py, xls_extras.py,
                     xlsb_extras.py, ods_extras.py
"""
