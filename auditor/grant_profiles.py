"""The names of the scanning role's grant profiles (see auditor.grants), apart from it so that
the command line can offer them without importing the config and collector modules."""

MONITORING = "monitoring"
DISCOVERY = "discovery"
PROFILES = (MONITORING, DISCOVERY)
