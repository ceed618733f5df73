"""Pipeline tests: `write_csv` comes from the root conftest, helpers from `support`."""
