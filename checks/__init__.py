"""The built-in check catalog. Each family module (transport, auth, column, audit...) holds
small `Check` subclasses; `auditor.catalog` discovers them, so adding a check is adding a class.
"""
