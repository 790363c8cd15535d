//! vpmd-xen: the Xen PMD, a user-space netback. Empty until its issue lands.
