"""The hook, and how it reads an Airflow connection: its parsing, its form and its shared lookup."""
