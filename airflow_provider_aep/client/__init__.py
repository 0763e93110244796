"""The request core: everything between a flow of AEP calls and the wire, with no Airflow import."""
