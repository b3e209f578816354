"""Every statement about the warehouse: its tables, engine, writes, versions, locks and reads."""
