"""The clinical record: the hash-chained audit log of readers' decisions (:mod:`model.record.audit`)
and the PDF report (:mod:`model.record.report`).

Headless (matplotlib for the PDF, no Qt); may import the core, never training or simulation.
"""
