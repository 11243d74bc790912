"""The data dictionary: every published table and column with its meaning, from the contract suites."""
