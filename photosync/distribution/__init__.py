"""Head office to edge distribution: the store's photo feed (:mod:`.feed`), the
status reports the edges send back (:mod:`.reports`), edge coverage (:mod:`.selectors`) and
the API the edges call (:mod:`.views`)."""
