"""The KPI documents: the code that writes them (``documents``) and their definition (JSON)."""
