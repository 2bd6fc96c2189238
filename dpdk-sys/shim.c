/* Out-of-line copies of DPDK's static inline functions (bindgen cannot bind static inlines).
 * Each function forwards to the inline of the same name without the shim_ prefix. */
#define _GNU_SOURCE /* cpu_set_t, behind rte_cpuset_t */
#include <sched.h>
#include <rte_config.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include "shim.h"

/* engine::buf's inline alloc/free fast paths mirror the mempool cache code of a build without
 * mempool statistics, mempool debug cookies or mbuf debug checks (Debian's). */
#if defined(RTE_LIBRTE_MEMPOOL_STATS) || defined(RTE_LIBRTE_MEMPOOL_DEBUG) || defined(RTE_LIBRTE_MBUF_DEBUG)
#error "dpdk-sys: DPDK built with mempool stats/debug or mbuf debug; engine::buf's inline mempool cache paths do not support it"
#endif

uint16_t shim_rte_eth_rx_burst(uint16_t p, uint16_t q, struct rte_mbuf **b, uint16_t n) { return rte_eth_rx_burst(p, q, b, n); }
uint16_t shim_rte_eth_tx_burst(uint16_t p, uint16_t q, struct rte_mbuf **b, uint16_t n) { return rte_eth_tx_burst(p, q, b, n); }
uint16_t shim_rte_eth_tx_prepare(uint16_t p, uint16_t q, struct rte_mbuf **b, uint16_t n) { return rte_eth_tx_prepare(p, q, b, n); }

struct rte_mbuf *shim_rte_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }
int shim_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **m, unsigned n) { return rte_pktmbuf_alloc_bulk(mp, m, n); }
void shim_rte_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
void shim_rte_pktmbuf_free_seg(struct rte_mbuf *m) { rte_pktmbuf_free_seg(m); }
void shim_rte_pktmbuf_reset(struct rte_mbuf *m) { rte_pktmbuf_reset(m); }
char *shim_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_prepend(m, len); }
char *shim_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }
char *shim_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_adj(m, len); }
int shim_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_trim(m, len); }
int shim_rte_pktmbuf_chain(struct rte_mbuf *h, struct rte_mbuf *t) { return rte_pktmbuf_chain(h, t); }
int shim_rte_pktmbuf_linearize(struct rte_mbuf *m) { return rte_pktmbuf_linearize(m); }
uint16_t shim_rte_pktmbuf_headroom(const struct rte_mbuf *m) { return rte_pktmbuf_headroom(m); }
uint16_t shim_rte_pktmbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }
uint16_t shim_rte_pktmbuf_data_room_size(struct rte_mempool *mp) { return rte_pktmbuf_data_room_size(mp); }
void shim_rte_pktmbuf_attach(struct rte_mbuf *mi, struct rte_mbuf *m) { rte_pktmbuf_attach(mi, m); }
void shim_rte_pktmbuf_detach(struct rte_mbuf *m) { rte_pktmbuf_detach(m); }
struct rte_mbuf *shim_rte_mbuf_from_indirect(struct rte_mbuf *mi) { return rte_mbuf_from_indirect(mi); }

uint16_t shim_rte_mbuf_refcnt_read(const struct rte_mbuf *m) { return rte_mbuf_refcnt_read(m); }
uint16_t shim_rte_mbuf_refcnt_update(struct rte_mbuf *m, int16_t v) { return rte_mbuf_refcnt_update(m, v); }
void shim_rte_mbuf_refcnt_set(struct rte_mbuf *m, uint16_t v) { rte_mbuf_refcnt_set(m, v); }

unsigned shim_rte_lcore_id(void) { return rte_lcore_id(); }
/* The CPUs lcore `lcore` may run on, as a bit mask over `nwords` 64-bit words (CPU c is bit c % 64
 * of word c / 64); -1 if the lcore is not enabled. */
int shim_rte_lcore_cpus(unsigned lcore, uint64_t *words, unsigned nwords) {
    if (lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcore)) return -1;
    rte_cpuset_t set = rte_lcore_cpuset(lcore);
    for (unsigned w = 0; w < nwords; w++) words[w] = 0;
    for (unsigned c = 0; c < CPU_SETSIZE && c / 64 < nwords; c++)
        if (CPU_ISSET(c, &set)) words[c / 64] |= (uint64_t)1 << (c % 64);
    return 0;
}
int shim_rte_errno(void) { return rte_errno; }
uint64_t shim_rte_get_tsc_cycles(void) { return rte_get_tsc_cycles(); }
