//! vpmd-vhost: the vhost-user PMD. Empty until its issue lands.
