/* placeholder: filled in by the bus core work */
