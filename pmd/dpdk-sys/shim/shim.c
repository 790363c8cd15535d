/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * vpmd's DPDK shim: each function is the static inline DPDK function of the
 * same name without the vpmd_ prefix, made callable from Rust. Nothing else.
 */
#include "shim.h"

unsigned int vpmd_rte_lcore_id(void)
{
	return rte_lcore_id();
}

int vpmd_rte_errno(void)
{
	return rte_errno;
}

struct rte_mbuf *vpmd_rte_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int vpmd_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
				unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void vpmd_rte_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

void vpmd_rte_pktmbuf_reset(struct rte_mbuf *m)
{
	rte_pktmbuf_reset(m);
}

uint16_t vpmd_rte_mbuf_refcnt_read(const struct rte_mbuf *m)
{
	return rte_mbuf_refcnt_read(m);
}

uint16_t vpmd_rte_mbuf_refcnt_update(struct rte_mbuf *m, int16_t value)
{
	return rte_mbuf_refcnt_update(m, value);
}

void vpmd_rte_mbuf_refcnt_set(struct rte_mbuf *m, uint16_t new_value)
{
	rte_mbuf_refcnt_set(m, new_value);
}

uint16_t vpmd_rte_pktmbuf_data_room_size(struct rte_mempool *mp)
{
	return rte_pktmbuf_data_room_size(mp);
}

uint16_t vpmd_rte_pktmbuf_headroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_headroom(m);
}

uint16_t vpmd_rte_pktmbuf_tailroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_tailroom(m);
}

struct rte_mbuf_ext_shared_info *
vpmd_rte_pktmbuf_ext_shinfo_init_helper(void *buf_addr, uint16_t *buf_len,
					rte_mbuf_extbuf_free_callback_t free_cb,
					void *fcb_opaque)
{
	return rte_pktmbuf_ext_shinfo_init_helper(buf_addr, buf_len, free_cb, fcb_opaque);
}

void vpmd_rte_pktmbuf_attach_extbuf(struct rte_mbuf *m, void *buf_addr,
				    rte_iova_t buf_iova, uint16_t buf_len,
				    struct rte_mbuf_ext_shared_info *shinfo)
{
	rte_pktmbuf_attach_extbuf(m, buf_addr, buf_iova, buf_len, shinfo);
}

int vpmd_rte_mempool_get_bulk(struct rte_mempool *mp, void **obj_table, unsigned int n)
{
	return rte_mempool_get_bulk(mp, obj_table, n);
}

void vpmd_rte_mempool_put_bulk(struct rte_mempool *mp, void *const *obj_table,
			       unsigned int n)
{
	rte_mempool_put_bulk(mp, obj_table, n);
}

unsigned int vpmd_rte_ring_sp_enqueue_burst(struct rte_ring *r, void *const *obj_table,
					    unsigned int n, unsigned int *free_space)
{
	return rte_ring_sp_enqueue_burst(r, obj_table, n, free_space);
}

unsigned int vpmd_rte_ring_sc_dequeue_burst(struct rte_ring *r, void **obj_table,
					    unsigned int n, unsigned int *available)
{
	return rte_ring_sc_dequeue_burst(r, obj_table, n, available);
}

int vpmd_rte_eth_linkstatus_set(struct rte_eth_dev *dev, const struct rte_eth_link *new_link)
{
	return rte_eth_linkstatus_set(dev, new_link);
}

void vpmd_rte_eth_linkstatus_get(const struct rte_eth_dev *dev, struct rte_eth_link *link)
{
	rte_eth_linkstatus_get(dev, link);
}

