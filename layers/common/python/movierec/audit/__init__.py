"""Audits of the running system from what it recorded: attacks (security), fairness, feedback loops.

Pure statistics over plain rows (:mod:`movierec.models.audit`, interaction logs, answer logs); the
reads live in :mod:`movierec.dal.audit_reads`, the commands in ``infra/commands/audit.py``. See
docs/audits.md for each question, statistic and limit.
"""
