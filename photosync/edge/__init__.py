"""The edge agent: the same project deployed in a store (``HO_URL`` set) pulls its store's
product photos from head office over the photo distribution API (:mod:`photosync.edge.agent`)."""
