"""Element-set catalogues: TLE, CCSDS OMM (KVN, XML, JSON, CSV), fixed-width fields and the format-
sniffing loader (``catalog``), all into the ``elements`` stream."""
