"""Transactions: settlement, validation and refund jobs on the ``transaction-processing`` queue."""
