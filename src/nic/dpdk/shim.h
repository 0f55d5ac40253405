/* What floe binds from DPDK: the control-path headers (bindgen) and the
 * static-inline fast path, wrapped by shim.c as plain functions. */
#ifndef FLOE_DPDK_SHIM_H
#define FLOE_DPDK_SHIM_H

#include <stdint.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

uint16_t floe_rte_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t floe_rte_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *floe_rte_pktmbuf_alloc(struct rte_mempool *pool);
void floe_rte_pktmbuf_free(struct rte_mbuf *m);
char *floe_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
void *floe_rte_pktmbuf_mtod(struct rte_mbuf *m);
uint16_t floe_rte_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t floe_rte_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t floe_rte_pktmbuf_tailroom(const struct rte_mbuf *m);
int floe_rte_errno(void);
uint64_t floe_rte_rdtsc(void);
uint64_t floe_rte_get_tsc_hz(void);

#endif
