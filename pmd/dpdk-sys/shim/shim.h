/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * vpmd's DPDK shim: out-of-line wrappers for the DPDK 22.11 functions that are
 * `static inline` in its headers (no symbol to link against), so Rust can call
 * them. Each vpmd_rte_X(...) is exactly rte_X(...): same arguments, same
 * result, same contract; see the DPDK documentation of rte_X.
 *
 * Compiled with the flags of `pkg-config --cflags libdpdk` and
 * -DALLOW_INTERNAL_API (ethdev_driver.h). Functions DPDK exports
 * (rte_pktmbuf_free_bulk, rte_socket_id, rte_pktmbuf_pool_create, ...) are
 * called directly and have no wrapper here.
 */
#ifndef VPMD_DPDK_SHIM_H
#define VPMD_DPDK_SHIM_H

#include <stdint.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <ethdev_driver.h>

/* EAL (both read thread-local variables) */
unsigned int vpmd_rte_lcore_id(void);
int vpmd_rte_errno(void); /* the rte_errno macro's value */

/* mbuf allocation and release (mempool per-lcore cache, TLS lcore id) */
struct rte_mbuf *vpmd_rte_pktmbuf_alloc(struct rte_mempool *mp);
int vpmd_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
				unsigned int count);
void vpmd_rte_pktmbuf_free(struct rte_mbuf *m);
void vpmd_rte_pktmbuf_reset(struct rte_mbuf *m);

/* mbuf fields that need atomics or the pool's private area */
uint16_t vpmd_rte_mbuf_refcnt_read(const struct rte_mbuf *m);
uint16_t vpmd_rte_mbuf_refcnt_update(struct rte_mbuf *m, int16_t value);
void vpmd_rte_mbuf_refcnt_set(struct rte_mbuf *m, uint16_t new_value);
uint16_t vpmd_rte_pktmbuf_data_room_size(struct rte_mempool *mp);
uint16_t vpmd_rte_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t vpmd_rte_pktmbuf_tailroom(const struct rte_mbuf *m);

/* external (zero-copy) buffers */
struct rte_mbuf_ext_shared_info *
vpmd_rte_pktmbuf_ext_shinfo_init_helper(void *buf_addr, uint16_t *buf_len,
					rte_mbuf_extbuf_free_callback_t free_cb,
					void *fcb_opaque);
void vpmd_rte_pktmbuf_attach_extbuf(struct rte_mbuf *m, void *buf_addr,
				    rte_iova_t buf_iova, uint16_t buf_len,
				    struct rte_mbuf_ext_shared_info *shinfo);

/* raw mempool objects (the bench anchor; mbufs go through the pktmbuf calls) */
int vpmd_rte_mempool_get_bulk(struct rte_mempool *mp, void **obj_table, unsigned int n);
void vpmd_rte_mempool_put_bulk(struct rte_mempool *mp, void *const *obj_table,
			       unsigned int n);

/* rte_ring single-producer / single-consumer bursts (the bench anchor) */
unsigned int vpmd_rte_ring_sp_enqueue_burst(struct rte_ring *r, void *const *obj_table,
					    unsigned int n, unsigned int *free_space);
unsigned int vpmd_rte_ring_sc_dequeue_burst(struct rte_ring *r, void **obj_table,
					    unsigned int n, unsigned int *available);

/* ethdev driver side (ethdev_driver.h): atomic 64-bit swap of data->dev_link */
int vpmd_rte_eth_linkstatus_set(struct rte_eth_dev *dev, const struct rte_eth_link *new_link);
void vpmd_rte_eth_linkstatus_get(const struct rte_eth_dev *dev, struct rte_eth_link *link);

#endif /* VPMD_DPDK_SHIM_H */
