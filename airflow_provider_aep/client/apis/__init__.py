"""One module per AEP API (paths, models, answers) over the shared request core."""
