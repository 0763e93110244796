"""Typed shapes of the export-jobs API: what is sent and what comes back."""

from airflow_provider_aep.models.export_job import (
    FAILED,
    NEW,
    PROCESSING,
    SUCCEEDED,
    ExportJob,
    ExportJobPage,
    JobProgress,
)
from airflow_provider_aep.models.export_job_request import ExportJobRequest

__all__ = ["FAILED", "NEW", "PROCESSING", "SUCCEEDED", "ExportJob", "ExportJobPage", "ExportJobRequest", "JobProgress"]
