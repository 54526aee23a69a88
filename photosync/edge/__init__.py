"""The edge agent: the same project deployed in a store (``HO_URL`` set) pulls its store's
product photos from head office over spec 001 (:mod:`photosync.edge.agent`)."""
