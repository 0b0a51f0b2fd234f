"""The mapping: a column-mapping YAML file, fitted to a file's header, turning rows into
CreateCustom payloads.

    config.py       load and check a mapping file as a whole (every problem with its path)
    plan.py         ``Plan``: the mapping fitted to a header; chunks mapped a column at a time
    convert.py      value types, one converter each, chosen from ``CONVERTERS`` (phone.py:
                    phone numbers)
    payload.py      one mapped row's CreateCustom body
    validation.py   ``validate``: every row mapped offline, nothing sent
"""
