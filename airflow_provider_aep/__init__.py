"""Apache Airflow provider for Adobe Experience Platform segment export jobs."""

__version__ = "0.1.0"
USER_AGENT = f"airflow-provider-aep/{__version__}"
