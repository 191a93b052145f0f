"""The clinical record: the hash-chained audit log of readers' decisions (:mod:`model.record.audit`)
and the PDF report (:mod:`model.record.report`).

* :mod:`model.record.audit`: the log's chain (append, verify, read), re-exporting the entry
  (:mod:`model.record.audit_entry`) and the site signing key (:mod:`model.record.audit_keys`);
* :mod:`model.record.report`: the PDF's pages, re-exporting its facts as text
  (:mod:`model.record.report_facts`), its data (:mod:`model.record.report_data`) and its layout
  primitives (:mod:`model.record.report_layout`);
* :mod:`model.record.reading_report`: the report's segmentation parts and the whole report for the
  command line;
* :mod:`model.record.dicom_export`: the results to PACS (SR and SC), with the Segmentation
  (:mod:`model.record.dicom_seg`) and the TID 1500 Measurement Report
  (:mod:`model.record.dicom_tid1500`); the coded concepts they share are
  :mod:`model.record.dicom_common`.

Headless (matplotlib for the PDF, no Qt); may import the core, never training or simulation.
"""
