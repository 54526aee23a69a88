"""The image sync: each product's default image from the store's shop into object
storage, with its WebP renditions. :mod:`.runner` runs it as a chunked job; :mod:`.planning`,
:mod:`.chunks`, :mod:`.downloads`, :mod:`.photos`, :mod:`.images` and :mod:`.storage` do the
work; :mod:`.reporting` says what a run did; :mod:`.views` is its API."""
