/* Out-of-line wrappers for the DPDK static inline functions and macros the engine calls.
 * Each wrapper is a one-line forward; see shim.c. */
#ifndef DPDK_SYS_SHIM_H
#define DPDK_SYS_SHIM_H
#include <stdint.h>
struct rte_mbuf;
struct rte_mempool;

uint16_t shim_rte_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t shim_rte_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t shim_rte_eth_tx_prepare(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);

struct rte_mbuf *shim_rte_pktmbuf_alloc(struct rte_mempool *mp);
int shim_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count);
void shim_rte_pktmbuf_free(struct rte_mbuf *m);
void shim_rte_pktmbuf_free_seg(struct rte_mbuf *m);
void shim_rte_pktmbuf_reset(struct rte_mbuf *m);
char *shim_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *shim_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *shim_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int shim_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
int shim_rte_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);
int shim_rte_pktmbuf_linearize(struct rte_mbuf *m);
uint16_t shim_rte_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t shim_rte_pktmbuf_tailroom(const struct rte_mbuf *m);
uint16_t shim_rte_pktmbuf_data_room_size(struct rte_mempool *mp);
void shim_rte_pktmbuf_attach(struct rte_mbuf *mi, struct rte_mbuf *m);
void shim_rte_pktmbuf_detach(struct rte_mbuf *m);
struct rte_mbuf *shim_rte_mbuf_from_indirect(struct rte_mbuf *mi);

uint16_t shim_rte_mbuf_refcnt_read(const struct rte_mbuf *m);
uint16_t shim_rte_mbuf_refcnt_update(struct rte_mbuf *m, int16_t value);
void shim_rte_mbuf_refcnt_set(struct rte_mbuf *m, uint16_t value);

unsigned shim_rte_lcore_id(void);
int shim_rte_lcore_cpus(unsigned lcore, uint64_t *words, unsigned nwords);
int shim_rte_errno(void);
uint64_t shim_rte_get_tsc_cycles(void);
#endif
