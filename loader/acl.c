// SPDX-License-Identifier: MIT
/*
 * Security groups: the `acl` commands, the ACLs of ports and networks, and
 * the compiler that turns every guest port's effective ACLs into the sets
 * the datapath classifies with (kvb_maps.h, bpf/lib/acl.h).
 *
 * A change is applied by acl_sync(): every port's set is compiled anew
 * under a fresh set id beside the old ones, each port switches with one
 * write of its kvb_aclp entry, and the old sets are removed a little later
 * (a packet that read the old id before the switch finishes with it).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

/* how long old sets stay after the switch: far longer than a packet */
#define ACL_RETIRE_US 20000

static const char *const action_names[] = {
	[KVB_ACL_REJECT] = "reject",
	[KVB_ACL_ALLOW] = "allow",
	[KVB_ACL_DROP] = "drop",
};

const char *acl_action_name(__u8 a)
{
	return a < ARRAY_SIZE(action_names) ? action_names[a] : "?";
}

int acl_action_parse(const char *s, __u8 *a)
{
	for (__u8 i = 0; i < ARRAY_SIZE(action_names); i++)
		if (!strcmp(s, action_names[i])) {
			*a = i;
			return 0;
		}
	return -1;
}

static int acl_get(struct fabric *fb, __u32 id, struct kvb_acl *a)
{
	return bpf_map_lookup_elem(fb->acl_fd, &id, a) ? -ENOENT : 0;
}

static int acl_find(struct fabric *fb, const char *name, struct kvb_acl *a)
{
	for (__u32 id = 1; id <= KVB_MAX_ACLS; id++)
		if (!acl_get(fb, id, a) && !strncmp(a->name, name, KVB_NAME_LEN))
			return 0;
	return -ENOENT;
}

static int rule_get(struct fabric *fb, __u32 acl, __u32 index,
		    struct kvb_acl_rule *r)
{
	struct kvb_acl_rule_key k = { .acl = acl, .index = index };

	return bpf_map_lookup_elem(fb->aclr_fd, &k, r) ? -ENOENT : 0;
}

/* "a,b,c" into ids; "none" is the caller's */
int acl_list_parse(struct fabric *fb, const char *cmd, const char *s,
		   __u16 ids[KVB_ACL_PER_PORT], int *n)
{
	char buf[256], *save, *w;
	struct kvb_acl a;

	*n = 0;
	if (!fb)
		return 1;	/* fab() said why */
	if (list_check(cmd, "acl", s))
		return 1;
	if (strlen(s) >= sizeof(buf))
		return err("%s: acl %s: at most %d ACLs", cmd, s,
			   KVB_ACL_PER_PORT);
	snprintf(buf, sizeof(buf), "%s", s);
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (*n == KVB_ACL_PER_PORT)
			return err("%s: acl %s: at most %d ACLs", cmd, s,
				   KVB_ACL_PER_PORT);
		if (acl_find(fb, w, &a))
			return err("%s: acl %s does not exist", cmd, w);
		for (int i = 0; i < *n; i++)
			if (ids[i] == a.id)
				return err("%s: acl %s named twice", cmd, w);
		ids[(*n)++] = (__u16)a.id;
	}
	if (!*n)
		return err("%s: acl: expected NAME[,NAME...] or none", cmd);
	return 0;
}

void acl_list_fmt(struct fabric *fb, const __u16 *ids, int n, char *buf,
		  size_t len)
{
	size_t w = 0;

	buf[0] = 0;
	for (int i = 0; i < n && w < len; i++) {
		struct kvb_acl a;

		if (acl_get(fb, ids[i], &a))
			snprintf(a.name, sizeof(a.name), "#%u", ids[i]);
		w += (size_t)snprintf(buf + w, len - w, "%s%s", i ? "," : "",
				      a.name);
	}
}

/* ------------------------------------------------------------- rules */

static int cidr_parse(const char *s, struct kvb_acl_cidr *c)
{
	char buf[64], *slash;
	__u32 max, len;

	memset(c, 0, sizeof(*c));
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = 6;
		max = 128;
	} else {
		return -1;
	}
	len = max;
	if (slash && parse_u32(slash, 0, max, &len))
		return -1;
	c->prefixlen = (__u8)len;
	/* no host bits: the rule says what it matches */
	for (unsigned int b = len; b < max; b++)
		if (c->addr[b / 8] & (0x80 >> (b % 8)))
			return -2;
	return 0;
}

static void cidr_fmt(const struct kvb_acl_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->prefixlen);
}

static int range_parse(const char *s, __u16 *lo, __u16 *hi)
{
	char buf[16], *dash;
	__u32 a, b;

	snprintf(buf, sizeof(buf), "%s", s);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = 0;
	if (strlen(s) >= sizeof(buf) || parse_u32(buf, 0, 65535, &a) ||
	    (dash && parse_u32(dash, a, 65535, &b)))
		return -1;
	if (!dash)
		b = a;
	*lo = (__u16)a;
	*hi = (__u16)b;
	return 0;
}

static const struct {
	const char *name;
	__u8 proto;
} protos[] = {
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP },
	{ "icmp", IPPROTO_ICMP }, { "icmpv6", IPPROTO_ICMPV6 },
};

enum { RK_PROTO, RK_SRC, RK_DST, RK_SPORT, RK_DPORT, RK_TYPE, RK_CODE,
       RK_LOG };
static const struct keyword rule_kws[] = {
	[RK_PROTO] = { "proto", "tcp|udp|icmp|icmpv6|N",
		       "the protocol (default: any)", 0, 0 },
	[RK_SRC] = { "src", "CIDR[,CIDR...]", "source addresses (default: any;\n"
		     "up to 8, IPv4 and IPv6)", 0, 0 },
	[RK_DST] = { "dst", "CIDR[,CIDR...]", "destination addresses", 0, 0 },
	[RK_SPORT] = { "sport", "P[-Q]", "source ports (tcp, udp)", 0, 0 },
	[RK_DPORT] = { "dport", "P[-Q]", "destination ports (tcp, udp)", 0, 0 },
	[RK_TYPE] = { "icmp-type", "T", "ICMP(v6) type (icmp, icmpv6)", 0, 0 },
	[RK_CODE] = { "icmp-code", "C", "ICMP(v6) code (with icmp-type)", 0, 0 },
	[RK_LOG] = { "log", "on|off", "on: the connections it lets in go to\n"
		     "'kvmbpf monitor' (acl-log; drops go there anyway)", 0, 0 },
};

static int cidrs_parse(const char *cmd, const char *kw, const char *s,
		       struct kvb_acl_cidr *out, __u8 *n)
{
	char buf[1024], *save, *w;
	int r;

	*n = 0;
	if (list_check(cmd, kw, s))
		return 1;
	if (strlen(s) >= sizeof(buf))
		return err("%s: %s: at most %d CIDRs", cmd, kw,
			   KVB_ACL_MAX_CIDRS);
	snprintf(buf, sizeof(buf), "%s", s);
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (*n == KVB_ACL_MAX_CIDRS)
			return err("%s: %s: at most %d CIDRs", cmd, kw,
				   KVB_ACL_MAX_CIDRS);
		r = cidr_parse(w, &out[*n]);
		if (r == -2)
			return err("%s: %s %s: host bits set (the network "
				   "address, please)", cmd, kw, w);
		if (r)
			return err("%s: %s %s: not an IPv4 or IPv6 CIDR", cmd,
				   kw, w);
		(*n)++;
	}
	if (!*n)
		return err("%s: %s needs CIDR[,CIDR...]", cmd, kw);
	return 0;
}

/* families a CIDR list has, bit 4 / bit 6; 0 when empty (any) */
static unsigned int cidr_fams(const struct kvb_acl_cidr *c, __u8 n)
{
	unsigned int f = 0;

	for (__u8 i = 0; i < n; i++)
		f |= 1U << c[i].family;
	return f;
}

/* DIR ACTION [KEYWORD ARG]... into r */
static int rule_parse(const char *cmd, int argc, char **argv,
		      struct kvb_acl_rule *r)
{
	struct kw_seen seen = { 0 };
	unsigned int fs, fd, fp = 0;

	memset(r, 0, sizeof(*r));
	if (argc < 2)
		return err("%s: expected ingress|egress and allow|drop|reject",
			   cmd);
	if (!strcmp(argv[0], "ingress"))
		r->dir = KVB_ACL_IN;
	else if (!strcmp(argv[0], "egress"))
		r->dir = KVB_ACL_OUT;
	else
		return err("%s: %s: expected ingress or egress", cmd, argv[0]);
	if (acl_action_parse(argv[1], &r->action))
		return err("%s: %s: expected allow, drop or reject", cmd,
			   argv[1]);
	for (int i = 2; i < argc; i += 2) {
		const struct keyword *kw = keyword_find(rule_kws,
							ARRAY_SIZE(rule_kws),
							argv[i]);
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		__u32 n;
		bool on;

		if (!kw)
			return err("%s: unknown keyword '%s' (try 'kvmbpf acl "
				   "help')", cmd, argv[i]);
		if (keyword_take(cmd, kw, (unsigned int)(kw - rule_kws), argc,
				 argv, i, &seen))
			return 1;
		switch (kw - rule_kws) {
		case RK_PROTO:
			r->proto = 0;
			for (size_t k = 0; k < ARRAY_SIZE(protos); k++)
				if (!strcmp(v, protos[k].name))
					r->proto = protos[k].proto;
			if (!r->proto) {
				if (parse_u32(v, 1, 255, &n))
					return err("%s: proto %s: expected tcp, "
						   "udp, icmp, icmpv6 or 1-255",
						   cmd, v);
				r->proto = (__u8)n;
			}
			break;
		case RK_SRC:
			if (cidrs_parse(cmd, "src", v, r->src, &r->nsrc))
				return 1;
			break;
		case RK_DST:
			if (cidrs_parse(cmd, "dst", v, r->dst, &r->ndst))
				return 1;
			break;
		case RK_SPORT:
		case RK_DPORT: {
			bool s = kw - rule_kws == RK_SPORT;

			if (range_parse(v, s ? &r->sport_lo : &r->dport_lo,
					s ? &r->sport_hi : &r->dport_hi))
				return err("%s: %s %s: expected P or P-Q "
					   "(0-65535)", cmd, kw->name, v);
			r->flags |= s ? KVB_ACLR_SPORT : KVB_ACLR_DPORT;
			break;
		}
		case RK_TYPE:
		case RK_CODE:
			if (parse_u32(v, 0, 255, &n))
				return err("%s: %s %s: expected 0-255", cmd,
					   kw->name, v);
			if (kw - rule_kws == RK_TYPE) {
				r->icmp_type = (__u8)n;
				r->flags |= KVB_ACLR_ICMP_TYPE;
			} else {
				r->icmp_code = (__u8)n;
				r->flags |= KVB_ACLR_ICMP_CODE;
			}
			break;
		default:
			if (parse_onoff(v, &on))
				return err("%s: log %s: expected on or off",
					   cmd, v);
			if (on)
				r->flags |= KVB_ACLR_LOG;
			else
				r->flags &= ~KVB_ACLR_LOG;
		}
	}
	if ((r->flags & (KVB_ACLR_SPORT | KVB_ACLR_DPORT)) &&
	    r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
		return err("%s: sport and dport need proto tcp or udp", cmd);
	if ((r->flags & (KVB_ACLR_ICMP_TYPE | KVB_ACLR_ICMP_CODE)) &&
	    r->proto != IPPROTO_ICMP && r->proto != IPPROTO_ICMPV6)
		return err("%s: icmp-type and icmp-code need proto icmp or "
			   "icmpv6", cmd);
	if ((r->flags & KVB_ACLR_ICMP_CODE) && !(r->flags & KVB_ACLR_ICMP_TYPE))
		return err("%s: icmp-code needs icmp-type", cmd);
	if (r->proto == IPPROTO_ICMP)
		fp = 1U << 4;
	else if (r->proto == IPPROTO_ICMPV6)
		fp = 1U << 6;
	fs = cidr_fams(r->src, r->nsrc);
	fd = cidr_fams(r->dst, r->ndst);
	if ((fs && fd && !(fs & fd)) || (fp && fs && !(fs & fp)) ||
	    (fp && fd && !(fd & fp)))
		return err("%s: the rule can match nothing: its addresses and "
			   "protocol are of different IP versions", cmd);
	return 0;
}

/* The rule as `acl rule add NAME` takes it (after NAME). */
static void rule_fmt(const struct kvb_acl_rule *r, char *buf, size_t len)
{
	size_t w;
	char c[64];

	w = (size_t)snprintf(buf, len, "%s %s",
			     r->dir == KVB_ACL_IN ? "ingress" : "egress",
			     acl_action_name(r->action));
	if (r->proto) {
		const char *pn = NULL;

		for (size_t k = 0; k < ARRAY_SIZE(protos); k++)
			if (protos[k].proto == r->proto)
				pn = protos[k].name;
		if (pn)
			w += (size_t)snprintf(buf + w, len - w, " proto %s", pn);
		else
			w += (size_t)snprintf(buf + w, len - w, " proto %u",
					      r->proto);
	}
	for (int d = 0; d < 2; d++) {
		const struct kvb_acl_cidr *cs = d ? r->dst : r->src;
		__u8 n = d ? r->ndst : r->nsrc;

		for (__u8 i = 0; i < n && i < KVB_ACL_MAX_CIDRS && w < len; i++) {
			cidr_fmt(&cs[i], c, sizeof(c));
			w += (size_t)snprintf(buf + w, len - w, "%s%s",
					      i ? "," : d ? " dst " : " src ", c);
		}
	}
	for (int d = 0; d < 2 && w < len; d++) {
		__u16 lo = d ? r->dport_lo : r->sport_lo;
		__u16 hi = d ? r->dport_hi : r->sport_hi;

		if (!(r->flags & (d ? KVB_ACLR_DPORT : KVB_ACLR_SPORT)))
			continue;
		if (lo == hi)
			w += (size_t)snprintf(buf + w, len - w, " %s %u",
					      d ? "dport" : "sport", lo);
		else
			w += (size_t)snprintf(buf + w, len - w, " %s %u-%u",
					      d ? "dport" : "sport", lo, hi);
	}
	if ((r->flags & KVB_ACLR_ICMP_TYPE) && w < len)
		w += (size_t)snprintf(buf + w, len - w, " icmp-type %u",
				      r->icmp_type);
	if ((r->flags & KVB_ACLR_ICMP_CODE) && w < len)
		w += (size_t)snprintf(buf + w, len - w, " icmp-code %u",
				      r->icmp_code);
	if ((r->flags & KVB_ACLR_LOG) && w < len)
		snprintf(buf + w, len - w, " log on");
}

/* -------------------------------------------------------- the compiler */

/* a prefix of one field of a set: what the LPM key holds after the set */
struct pfx {
	__u32 len;		/* LPM prefixlen from the set on */
	__u8 fam;
	__u8 addr[16];
	struct kvb_acl_bits bits;
};

struct cset {
	struct pfx *p;
	size_t n, cap;
};

static int pfx_add(struct cset *c, __u32 len, __u8 fam, const __u8 *addr)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct pfx *p = realloc(c->p, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->p = p;
		c->cap = cap;
	}
	memset(&c->p[c->n], 0, sizeof(c->p[0]));
	c->p[c->n].len = len;
	c->p[c->n].fam = fam;
	if (addr)
		memcpy(c->p[c->n].addr, addr, 16);
	c->n++;
	return 0;
}

static int pfx_cmp(const void *a, const void *b)
{
	const struct pfx *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->fam != y->fam)
		return x->fam < y->fam ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

static void pfx_unique(struct cset *c)
{
	size_t w = 0;

	qsort(c->p, c->n, sizeof(c->p[0]), pfx_cmp);
	for (size_t i = 0; i < c->n; i++)
		if (!w || pfx_cmp(&c->p[w - 1], &c->p[i]))
			c->p[w++] = c->p[i];
	c->n = w;
}

/* do the first bits bits of a and b agree? */
static bool bits_agree(const __u8 *a, const __u8 *b, __u32 bits)
{
	for (__u32 i = 0; i < bits; i++)
		if ((a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* one rule of a set, in priority order */
struct crule {
	struct kvb_acl_rule r;
	__u32 acl, index;
};

/* a port range as prefixes of the 16-bit port: (port, bits) pairs */
static int range_prefixes(__u16 lo, __u16 hi, __u32 out[32][2])
{
	__u32 a = lo, n = 0;

	while (a <= hi && n < 32) {
		__u32 k = 0;

		while (k < 16 && !(a & (1U << k)) && a + (2U << k) - 1 <= hi)
			k++;
		out[n][0] = a;
		out[n][1] = 16 - k;
		n++;
		a += 1U << k;
	}
	return (int)n;
}

/*
 * The LPM prefixes of rule r in field dim (addresses: fam byte and
 * address; ports: protocol and port), into c if c, else tested against
 * p: does r take every value p stands for?
 */
/*
 * The values rule r allows in port dimension dim (source or destination
 * port; ICMP type or code for ICMP rules): false when r does not
 * constrain it, else the range in *lo..*hi.
 */
static bool rule_port_range(const struct kvb_acl_rule *r, int dim,
			    __u16 *lo, __u16 *hi)
{
	bool icmp = r->proto == IPPROTO_ICMP || r->proto == IPPROTO_ICMPV6;
	bool s = dim == KVB_ACL_D_SPORT;
	__u32 f = s ? (icmp ? KVB_ACLR_ICMP_TYPE : KVB_ACLR_SPORT) :
		      (icmp ? KVB_ACLR_ICMP_CODE : KVB_ACLR_DPORT);

	if (!(r->flags & f))
		return false;
	if (icmp)
		*lo = *hi = s ? r->icmp_type : r->icmp_code;
	else if (s)
		*lo = r->sport_lo, *hi = r->sport_hi;
	else
		*lo = r->dport_lo, *hi = r->dport_hi;
	return true;
}

static bool rule_covers(const struct kvb_acl_rule *r, int dim,
			const struct pfx *p)
{
	__u16 lo, hi;

	/* a rule without a source port takes every source port of every
	 * protocol: its protocol is the destination port field's */
	if (dim == KVB_ACL_D_SPORT && !rule_port_range(r, dim, &lo, &hi))
		return true;
	if (p->len == 40)	/* the root: every value */
		return dim < 2 ? !(dim ? r->ndst : r->nsrc) : !r->proto;
	if (dim < 2) {
		const struct kvb_acl_cidr *cs = dim ? r->dst : r->src;
		__u8 n = dim ? r->ndst : r->nsrc;

		if (!n)
			return true;
		for (__u8 i = 0; i < n; i++)
			if (cs[i].family == p->fam &&
			    48U + cs[i].prefixlen <= p->len &&
			    bits_agree(cs[i].addr, p->addr, cs[i].prefixlen))
				return true;
		return false;
	}
	if (!r->proto)
		return true;
	if (r->proto != p->fam)
		return false;
	{
		__u32 pr[32][2];
		int np;

		if (!rule_port_range(r, dim, &lo, &hi))
			return true;
		np = range_prefixes(lo, hi, pr);
		for (int i = 0; i < np; i++) {
			__u8 q[2] = { (__u8)(pr[i][0] >> 8), (__u8)pr[i][0] };

			if (48 + pr[i][1] <= p->len &&
			    bits_agree(q, p->addr, pr[i][1]))
				return true;
		}
		return false;
	}
}

static int rule_prefixes(const struct kvb_acl_rule *r, int dim,
			 struct cset *c)
{
	int ret = 0;

	if (dim < 2) {
		const struct kvb_acl_cidr *cs = dim ? r->dst : r->src;
		__u8 n = dim ? r->ndst : r->nsrc;

		for (__u8 i = 0; i < n && !ret; i++)
			ret = pfx_add(c, 48U + cs[i].prefixlen, cs[i].family,
				      cs[i].addr);
		return ret;
	}
	if (!r->proto)
		return 0;
	{
		__u8 a[16] = { 0 };
		__u16 lo, hi;
		__u32 pr[32][2];
		int np;

		if (!rule_port_range(r, dim, &lo, &hi))
			return dim == KVB_ACL_D_SPORT ? 0 :
			       pfx_add(c, 48, r->proto, a);
		np = range_prefixes(lo, hi, pr);
		for (int i = 0; i < np && !ret; i++) {
			a[0] = (__u8)(pr[i][0] >> 8);
			a[1] = (__u8)pr[i][0];
			/* bits below the prefix are zero already */
			ret = pfx_add(c, 48 + pr[i][1], r->proto, a);
		}
		return ret;
	}
}

/*
 * Write the field dim of set, direction dir, for rules rs[0..n); *used:
 * does a rule constrain it (more than the root entry)?
 */
static int compile_dim(struct fabric *fb, __u32 set, int dir, int dim,
		       const struct crule *rs, size_t n, bool *used)
{
	struct cset c = { 0 };
	__be32 sb = htonl(set);
	int ret = pfx_add(&c, 40, 0, NULL);

	for (size_t i = 0; i < n && !ret; i++)
		ret = rule_prefixes(&rs[i].r, dim, &c);
	if (ret)
		goto out;
	pfx_unique(&c);
	*used = c.n > 1;
	for (size_t j = 0; j < c.n && !ret; j++) {
		struct kvb_acl_lpm_key k = { 0 };

		for (size_t i = 0; i < n; i++)
			if (rule_covers(&rs[i].r, dim, &c.p[j]))
				c.p[j].bits.w[i / 64] |= 1ULL << (i % 64);
		k.prefixlen = c.p[j].len;
		memcpy(k.set, &sb, 4);
		k.dim = (__u8)(dir * 4 + dim);
		k.fam = c.p[j].fam;
		memcpy(k.addr, c.p[j].addr, 16);
		if (bpf_map_update_elem(fb->acllpm_fd, &k, &c.p[j].bits, BPF_ANY))
			ret = errno == E2BIG ? -ENOSPC : -errno;
	}
out:
	free(c.p);
	return ret;
}

/* The rules of ACLs ids in direction dir, drop and reject first. */
static int set_rules(struct fabric *fb, const __u16 *ids, int nids, int dir,
		     struct crule **out, size_t *n)
{
	struct crule *rs = NULL;
	size_t cnt = 0, cap = 0;

	for (int pass = 0; pass < 2; pass++)
		for (int a = 0; a < nids; a++) {
			struct kvb_acl acl;

			if (acl_get(fb, ids[a], &acl))
				continue;
			for (__u32 i = 0; i < acl.nrules; i++) {
				struct kvb_acl_rule r;
				bool deny;

				if (rule_get(fb, acl.id, i, &r) || r.dir != dir)
					continue;
				deny = r.action != KVB_ACL_ALLOW;
				if (deny != !pass)
					continue;
				if (cnt == cap) {
					struct crule *t;

					cap = cap ? cap * 2 : 64;
					t = realloc(rs, cap * sizeof(*rs));
					if (!t) {
						free(rs);
						return -ENOMEM;
					}
					rs = t;
				}
				rs[cnt].r = r;
				rs[cnt].acl = acl.id;
				rs[cnt].index = i;
				cnt++;
			}
		}
	*out = rs;
	*n = cnt;
	return 0;
}

/*
 * Whether ACLs ids fit one set (at most KVB_ACL_SET_RULES rules in each
 * direction): checked before a command changes anything, so that a set
 * the datapath cannot take refuses the whole command. 0, or the error
 * told.
 */
int acl_list_fits(struct fabric *fb, const char *cmd, const __u16 *ids,
		  int nids)
{
	for (int dir = 0; dir < 2; dir++) {
		struct crule *rs;
		size_t n;

		if (set_rules(fb, ids, nids, dir, &rs, &n))
			return err("%s: cannot read the ACLs: out of memory",
				   cmd);
		free(rs);
		if (n > KVB_ACL_SET_RULES) {
			char names[256];

			acl_list_fmt(fb, ids, nids, names, sizeof(names));
			return err("%s: acl %s: more than %d rules in one "
				   "direction of a port", cmd, names,
				   KVB_ACL_SET_RULES);
		}
	}
	return 0;
}

/* The rules a set is compiled from, both directions (set_rules), read
 * once for its signature and its compilation. */
struct set_src {
	struct crule *rs[2];
	size_t n[2];
};

static int set_src_read(struct fabric *fb, const __u16 *ids, int nids,
			struct set_src *src)
{
	memset(src, 0, sizeof(*src));
	for (int dir = 0; dir < 2; dir++) {
		int ret = set_rules(fb, ids, nids, dir, &src->rs[dir],
				    &src->n[dir]);

		if (ret)
			return ret;
	}
	return 0;
}

static void set_src_free(struct set_src *src)
{
	free(src->rs[0]);
	free(src->rs[1]);
	memset(src, 0, sizeof(*src));
}

/*
 * Compile the rules of src into set; nrules[] and the fields constrained
 * (dims[]) per direction. 0 or -errno.
 */
static int compile_set(struct fabric *fb, __u32 set, const struct set_src *src,
		       __u16 nrules[2], __u8 dims[2])
{
	for (int dir = 0; dir < 2; dir++) {
		const struct crule *rs = src->rs[dir];
		size_t n = src->n[dir];
		int ret = 0;

		if (n > KVB_ACL_SET_RULES)
			return -E2BIG;
		dims[dir] = 0;
		for (int dim = 0; dim < 4 && !ret; dim++) {
			bool used = false;

			ret = compile_dim(fb, set, dir, dim, rs, n, &used);
			if (used)
				dims[dir] |= (__u8)(1U << dim);
		}
		for (size_t i = 0; i < n && !ret; i++) {
			struct kvb_acl_bit_key k = { .set = set, .bit = (__u16)i,
						     .dir = (__u8)dir };
			struct kvb_acl_bit v = { .action = rs[i].r.action,
						 .flags = rs[i].r.flags,
						 .ctr = rs[i].r.ctr,
						 .acl = rs[i].acl,
						 .index = rs[i].index };

			if (bpf_map_update_elem(fb->aclbit_fd, &k, &v, BPF_ANY))
				ret = errno == E2BIG ? -ENOSPC : -errno;
		}
		if (ret)
			return ret;
		nrules[dir] = (__u16)n;
	}
	return 0;
}

/* what compile_set makes of the same rules: bump it whenever that
 * changes, so that an upgraded kvmbpf compiles every set again */
#define ACL_COMPILER 1

/*
 * A set's signature: a hash of what compile_set makes of ACLs ids (the
 * list, then each direction's rules as set_rules orders them, their
 * counters and origins, in src), kept with the set in kvb_aclbit under
 * KVB_ACL_SIG_BIT with its dims. acl_sync keeps a set in use whose
 * signature is the list's (the same rules give the same set): a command
 * that changes no rule of a list recompiles nothing for it, its ports'
 * connections are not judged again, and the tables need room for the
 * changed lists only.
 */
static __u64 set_signature(const __u16 *ids, int nids,
			   const struct set_src *src)
{
	const __u32 rev[2] = { ACL_COMPILER, KVB_LAYOUT_VERSION };
	__u64 h = FNV1A_INIT;

	h = fnv1a(h, rev, sizeof(rev));
	h = fnv1a(h, &nids, sizeof(nids));
	h = fnv1a(h, ids, (size_t)nids * sizeof(*ids));
	for (int dir = 0; dir < 2; dir++) {
		h = fnv1a(h, &src->n[dir], sizeof(src->n[dir]));
		h = fnv1a(h, src->rs[dir], src->n[dir] * sizeof(*src->rs[dir]));
	}
	return h;
}

static void sig_key(struct kvb_acl_bit_key *k, __u32 set)
{
	memset(k, 0, sizeof(*k));
	k->set = set;
	k->bit = KVB_ACL_SIG_BIT;
	k->dir = KVB_ACL_SIG_DIR;
}

/* set's signature and dims, as compile_set left them: 0, or -ENOENT
 * (a set of an older kvmbpf, or one being torn down) */
static int sig_get(struct fabric *fb, __u32 set, __u64 *h, __u8 dims[2])
{
	struct kvb_acl_bit_key k;
	struct kvb_acl_bit v;

	sig_key(&k, set);
	if (bpf_map_lookup_elem(fb->aclbit_fd, &k, &v))
		return -ENOENT;
	*h = (__u64)v.acl << 32 | v.index;
	dims[0] = v.action;
	dims[1] = v.flags;
	return 0;
}

static int sig_put(struct fabric *fb, __u32 set, __u64 h, const __u8 dims[2])
{
	struct kvb_acl_bit_key k;
	struct kvb_acl_bit v = { .action = dims[0], .flags = dims[1],
				 .acl = (__u32)(h >> 32), .index = (__u32)h };

	sig_key(&k, set);
	if (bpf_map_update_elem(fb->aclbit_fd, &k, &v, BPF_ANY))
		return errno == E2BIG ? -ENOSPC : -errno;
	return 0;
}

struct live_sets {
	__u32 *ids;
	size_t n;
	__u32 max;
};

static bool set_live(const struct live_sets *l, __u32 set)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == set)
			return true;
	return false;
}

static void max_lpm(const void *key, const void *value, void *arg)
{
	const struct kvb_acl_lpm_key *k = key;
	struct live_sets *l = arg;
	__u32 s;

	(void)value;
	memcpy(&s, k->set, 4);
	s = ntohl(s);
	if (s > l->max)
		l->max = s;
}

static bool dead_lpm(const void *key, const void *value, void *arg)
{
	const struct kvb_acl_lpm_key *k = key;
	__u32 s;

	(void)value;
	memcpy(&s, k->set, 4);
	return !set_live(arg, ntohl(s));
}

static bool dead_bit(const void *key, const void *value, void *arg)
{
	(void)value;
	return !set_live(arg, ((const struct kvb_acl_bit_key *)key)->set);
}

/*
 * A port's ACL entry (kvb_aclp) and connection count (kvb_aclctn) are
 * arrays indexed by its counter slot (kvb_port.slot): the datapath finds
 * them by index. The entry names its port (ifindex): a slot holds no
 * entry of another port's. The entry has two copies, one in force
 * (kvb_aclsel): aclp_write writes the other whole, then switches.
 */
int aclp_read(struct fabric *fb, __u32 slot, struct kvb_acl_port *ap)
{
	struct kvb_aclsel sel = { 0 };
	__u32 k;

	if (!slot || slot > KVB_MAX_PORTS ||
	    bpf_map_lookup_elem(fb->aclsel_fd, &slot, &sel))
		return -1;
	k = slot * 2 + (sel.sel & 1);
	return bpf_map_lookup_elem(fb->aclp_fd, &k, ap) ? -1 : 0;
}

/* an entry whose set judges its port's traffic (kvb_aclon counts it) */
static bool aclp_judges(const struct kvb_acl_port *ap)
{
	return ap->set && ap->ifindex;
}

/* kvb_aclon: whether the datapath takes its ACL steps at all */
static int aclon_put(struct fabric *fb, __u32 on)
{
	struct kvb_aclon v = { .on = on };
	__u32 zero = 0;

	return bpf_map_update_elem(fb->aclon_fd, &zero, &v, BPF_ANY);
}

/*
 * kvb_aclon on, before a set comes into force: when it was off, after
 * KVB_ACLSEL_HOLD_NS, so that no packet that read it off (and then skips
 * every ACL step, the receiver's tc egress too) is still on its way when
 * the set is in force. The first set of a fabric waits 20 ms for it.
 */
static int aclon_enable(struct fabric *fb)
{
	struct kvb_aclon v = { 0 };
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(fb->aclon_fd, &zero, &v) && v.on)
		return 0;
	if (aclon_put(fb, 1))
		return -1;
	usleep((useconds_t)(KVB_ACLSEL_HOLD_NS / 1000));
	return 0;
}

/* the copy in force of every slot (kvb_aclsel), and whether one has a
 * set (kvb_aclp): two batched walks, not two lookups a slot, since a
 * network's ports leave their sets one by one and each may recount */
struct aclon_scan {
	__u8 sel[KVB_MAX_PORTS + 1];
	bool any;
};

static void aclon_sel_one(const void *key, const void *value, void *arg)
{
	struct aclon_scan *c = arg;
	__u32 slot = *(const __u32 *)key;

	if (slot <= KVB_MAX_PORTS)
		c->sel[slot] = ((const struct kvb_aclsel *)value)->sel & 1;
}

static void aclon_entry_one(const void *key, const void *value, void *arg)
{
	const struct kvb_acl_port *ap = value;
	struct aclon_scan *c = arg;
	__u32 k = *(const __u32 *)key, slot = k / 2;

	if (slot && slot <= KVB_MAX_PORTS && k % 2 == c->sel[slot] &&
	    aclp_judges(ap))
		c->any = true;
}

/* off once no port's entry in force has a set (a copy just left force
 * is no longer read for a new judgment: one that read it already goes
 * on with it) */
static int aclon_recount(struct fabric *fb)
{
	struct aclon_scan *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -1;
	map_walk(fb->aclsel_fd, sizeof(__u32), sizeof(struct kvb_aclsel),
		 aclon_sel_one, c);
	map_walk(fb->aclp_fd, sizeof(__u32), sizeof(struct kvb_acl_port),
		 aclon_entry_one, c);
	ret = c->any ? 0 : aclon_put(fb, 0);
	free(c);
	return ret;
}

/*
 * The copy not in force was in force until the last flip: a judgment
 * that read the selector before it may still read that copy, so it is
 * written again only KVB_ACLSEL_HOLD_NS after (a program runs for
 * microseconds; the sets' retirement waits as long), whichever command
 * flipped it. A write of what is in force flips nothing. kvb_aclon is on
 * before a set comes into force (aclon_enable), and off after the last
 * one left.
 */
int aclp_write(struct fabric *fb, __u32 slot, const struct kvb_acl_port *ap)
{
	struct kvb_aclsel sel = { 0 };
	struct kvb_acl_port cur;
	bool had = false;
	__u64 now;
	__u32 k;

	if (!slot || slot > KVB_MAX_PORTS) {
		errno = ENOENT;
		return -1;
	}
	if (bpf_map_lookup_elem(fb->aclsel_fd, &slot, &sel))
		return -1;
	k = slot * 2 + (sel.sel & 1);
	if (!bpf_map_lookup_elem(fb->aclp_fd, &k, &cur)) {
		if (!memcmp(&cur, ap, sizeof(cur)))
			return 0;
		had = aclp_judges(&cur);
	}
	if (aclp_judges(ap) && aclon_enable(fb))
		return -1;
	now = clock_mono_exact_ns();
	if (sel.flipped_ns && now >= sel.flipped_ns &&
	    now - sel.flipped_ns < KVB_ACLSEL_HOLD_NS)
		usleep((useconds_t)((KVB_ACLSEL_HOLD_NS -
				     (now - sel.flipped_ns)) / 1000 + 1));
	sel.sel = !(sel.sel & 1);
	k = slot * 2 + sel.sel;
	if (bpf_map_update_elem(fb->aclp_fd, &k, ap, BPF_ANY))
		return -1;
	sel.flipped_ns = clock_mono_exact_ns();
	if (bpf_map_update_elem(fb->aclsel_fd, &slot, &sel, BPF_ANY))
		return -1;
	return had && !aclp_judges(ap) ? aclon_recount(fb) : 0;
}

static int aclp_get(struct fabric *fb, const struct kvb_port *p,
		    struct kvb_acl_port *ap)
{
	if (aclp_read(fb, p->slot, ap) || ap->ifindex != p->ifindex)
		return -1;
	return 0;
}

static int aclp_put(struct fabric *fb, const struct kvb_port *p,
		    struct kvb_acl_port *ap)
{
	ap->ifindex = p->ifindex;
	return aclp_write(fb, p->slot, ap);
}

/* the port's ACL entry goes (its count stays) */
static void aclp_del(struct fabric *fb, const struct kvb_port *p)
{
	struct kvb_acl_port ap = { 0 };

	aclp_write(fb, p->slot, &ap);
}

/* a slot given to a port, or given up: no ACL entry, no count */
void acl_slot_clear(struct fabric *fb, __u32 slot)
{
	struct kvb_acl_port ap = { 0 };
	struct kvb_aclctn n = { 0 };

	if (!slot || slot > KVB_MAX_PORTS)
		return;
	aclp_write(fb, slot, &ap);
	bpf_map_update_elem(fb->aclctn_fd, &slot, &n, BPF_ANY);
}

int acl_port_own(struct fabric *fb, const struct kvb_port *p, __u16 *ids)
{
	struct kvb_acl_port ap;

	if (aclp_get(fb, p, &ap) || !(ap.flags & KVB_ACLP_OWN))
		return 0;
	memcpy(ids, ap.acl, sizeof(ap.acl));
	return ap.nacl > KVB_ACL_PER_PORT ? KVB_ACL_PER_PORT : ap.nacl;
}

/* the port's own ACLs, else its network's; their count */
int acl_port_effective(struct fabric *fb, const struct kvb_port *p, __u16 *ids)
{
	struct kvb_net n;
	int k = acl_port_own(fb, p, ids);

	if (k || net_get(fb, p->net_id, &n))
		return k;
	memcpy(ids, n.acl, sizeof(n.acl));
	return n.nacl > KVB_ACL_PER_PORT ? KVB_ACL_PER_PORT : n.nacl;
}

/*
 * The sets no port uses any more (its port detached or gone, its network
 * deleted): removed now, as a change of ACLs removes them, not at the
 * next one (t122: they stayed, holding room in the shared tables). A
 * fabric without sets has nothing to do. 0, or acl_sync's error.
 */
int acl_tidy(struct fabric *fb, const char *cmd)
{
	struct kvb_acl_lpm_key k;

	if (bpf_map_get_next_key(fb->acllpm_fd, NULL, &k))
		return 0;
	return acl_sync(fb, cmd);
}

int acl_sync(struct fabric *fb, const char *cmd)
{
	struct live_sets live = { 0 }, inuse = { 0 };
	struct kvb_port *ps;
	int n = libbpf_num_possible_cpus(), ret = 0;
	struct {
		__u16 ids[KVB_ACL_PER_PORT];
		int nids;
		__u32 set;
		__u16 nrules[2];
		__u8 dims[2];
	} *groups;
	struct {
		__u32 set;
		__u64 h;
		__u8 dims[2];
		bool stale;	/* a port of it has another default now */
	} *used;
	size_t ng = 0, nu = 0;
	struct set_src src;
	bool retire = false, gced = false;
	struct kvb_meta meta = { 0 };
	__u32 zero = 0;

	(void)n;
	n = port_list(fb, &ps);
	if (n < 0)
		return err("%s: %s", cmd, strerror(-n));
	groups = calloc((size_t)n + 1, sizeof(*groups));
	used = calloc((size_t)n + 1, sizeof(*used));
	live.ids = calloc((size_t)n + 1, sizeof(*live.ids));
	inuse.ids = calloc((size_t)n + 1, sizeof(*inuse.ids));
	if (!groups || !used || !live.ids || !inuse.ids) {
		ret = err("%s: out of memory", cmd);
		goto out;
	}
	map_walk(fb->acllpm_fd, sizeof(struct kvb_acl_lpm_key),
		 sizeof(struct kvb_acl_bits), max_lpm, &live);
	/* a set id is never given twice: kvb_aclvc may still hold verdicts
	 * of a set gone */
	if (!bpf_map_lookup_elem(fb->meta_fd, &zero, &meta) &&
	    meta.acl_set_last > live.max)
		live.max = meta.acl_set_last;
	/*
	 * The sets ports use now, with their signatures (set_signature). A
	 * set one of whose ports' network has changed its default is not
	 * kept: a connection is judged again only when its port's set is
	 * another, and one the old default let in must be judged by the new.
	 */
	for (int i = 0; i < n; i++) {
		struct kvb_acl_port ap;
		struct kvb_net net;
		bool stale;
		size_t u;

		if (ps[i].role != KVB_PORT_GUEST || aclp_get(fb, &ps[i], &ap) ||
		    !ap.set)
			continue;
		stale = net_get(fb, ps[i].net_id, &net) ||
			memcmp(ap.def, net.acl_default, sizeof(ap.def));
		/* every set in use stays for now, signed or not (one of
		 * an older kvmbpf has no signature) */
		if (!set_live(&inuse, ap.set))
			inuse.ids[inuse.n++] = ap.set;
		for (u = 0; u < nu && used[u].set != ap.set; u++)
			;
		if (u < nu) {
			used[u].stale |= stale;
		} else if (!sig_get(fb, ap.set, &used[nu].h, used[nu].dims)) {
			used[nu].stale = stale;
			used[nu++].set = ap.set;
		}
	}
	/* compile every distinct list once, beside the sets in use; a set
	 * in use with the list's signature is kept as it is */
	for (int i = 0; i < n; i++) {
		__u16 ids[KVB_ACL_PER_PORT];
		__u64 h = 0;
		int k;
		size_t g, u;

		if (ps[i].role != KVB_PORT_GUEST)
			continue;
		k = acl_port_effective(fb, &ps[i], ids);
		if (!k)
			continue;
		for (g = 0; g < ng; g++)
			if (groups[g].nids == k &&
			    !memcmp(groups[g].ids, ids, (size_t)k * 2))
				break;
		if (g < ng)
			continue;
		memcpy(groups[ng].ids, ids, sizeof(ids));
		groups[ng].nids = k;
		ret = set_src_read(fb, ids, k, &src);
		h = ret ? 0 : set_signature(ids, k, &src);
		for (u = 0; !ret && u < nu && (used[u].h != h || used[u].stale);
		     u++)
			;
		if (!ret && u < nu) {
			groups[ng].set = used[u].set;
			groups[ng].nrules[0] = (__u16)src.n[0];
			groups[ng].nrules[1] = (__u16)src.n[1];
			memcpy(groups[ng].dims, used[u].dims,
			       sizeof(groups[ng].dims));
			live.ids[live.n++] = groups[ng].set;
			ng++;
			set_src_free(&src);
			continue;
		}
		/* sets no port uses (a detached port's, left by the last
		 * sync) go before the first new one, making room for it */
		if (!gced) {
			map_delete_where(fb->acllpm_fd,
					 sizeof(struct kvb_acl_lpm_key),
					 sizeof(struct kvb_acl_bits), dead_lpm,
					 &inuse);
			map_delete_where(fb->aclbit_fd,
					 sizeof(struct kvb_acl_bit_key),
					 sizeof(struct kvb_acl_bit), dead_bit,
					 &inuse);
			gced = true;
		}
		groups[ng].set = ++live.max;
		meta.acl_set_last = live.max;
		if (bpf_map_update_elem(fb->meta_fd, &zero, &meta, BPF_ANY)) {
			ret = err("%s: cannot record the ACL set id: %s", cmd,
				  strerror(errno));
			set_src_free(&src);
			goto out;
		}
		ret = ret ? ret :
		      compile_set(fb, groups[ng].set, &src, groups[ng].nrules,
				  groups[ng].dims);
		set_src_free(&src);
		if (!ret)
			ret = sig_put(fb, groups[ng].set, h, groups[ng].dims);
		live.ids[live.n++] = groups[ng].set;
		ng++;
		if (ret) {
			char names[256];

			acl_list_fmt(fb, ids, k, names, sizeof(names));
			ret = ret == -E2BIG ?
				err("%s: acl %s: more than %d rules in one "
				    "direction of a port", cmd, names,
				    KVB_ACL_SET_RULES) :
			      ret == -ENOSPC ?
				err("%s: acl %s: the ACL tables are full (%u "
				    "prefixes, %u entries, a rule's or a "
				    "set's, over every distinct list of ACLs; "
				    "a changed list is built beside the one "
				    "in use)", cmd, names, KVB_ACL_MAX_LPM,
				    4 * KVB_ACL_SET_RULES * 16) :
				err("%s: acl %s: cannot compile: %s", cmd,
				    names, strerror(-ret));
			/* nothing switched: the new sets go, the old (the
			 * ports' sets, in use) stay */
			memcpy(live.ids, inuse.ids, inuse.n * sizeof(*live.ids));
			live.n = inuse.n;
			retire = true;
			goto gc;
		}
	}
	/* each port switches with one write */
	for (int i = 0; i < n; i++) {
		struct kvb_acl_port ap = { 0 }, old = { 0 };
		__u16 ids[KVB_ACL_PER_PORT];
		struct kvb_net net;
		int k;
		bool had;

		if (ps[i].role != KVB_PORT_GUEST)
			continue;
		had = !aclp_get(fb, &ps[i], &old);
		ap.flags = had ? old.flags & KVB_ACLP_OWN : 0;
		ap.nacl = had ? old.nacl : 0;
		memcpy(ap.acl, old.acl, sizeof(ap.acl));
		k = acl_port_effective(fb, &ps[i], ids);
		for (size_t g = 0; k && g < ng; g++)
			if (groups[g].nids == k &&
			    !memcmp(groups[g].ids, ids, (size_t)k * 2)) {
				ap.set = groups[g].set;
				memcpy(ap.nrules, groups[g].nrules,
				       sizeof(ap.nrules));
				memcpy(ap.dims, groups[g].dims,
				       sizeof(ap.dims));
			}
		if (!net_get(fb, ps[i].net_id, &net)) {
			memcpy(ap.def, net.acl_default, sizeof(ap.def));
			ap.ct_max = net.acl_ct_max;
		}
		/* a set left behind goes once no packet can be judged by
		 * it any more */
		if (had && old.set && old.set != ap.set)
			retire = true;
		if (!ap.set && !(ap.flags & KVB_ACLP_OWN)) {
			if (had)
				aclp_del(fb, &ps[i]);
			continue;
		}
		if (aclp_put(fb, &ps[i], &ap))
			ret = err("%s: %s: cannot switch its ACLs: %s", cmd,
				  ps[i].name, strerror(errno));
	}
gc:
	/* the old sets go once no packet can still be judged by them */
	if (retire)
		usleep(ACL_RETIRE_US);
	map_delete_where(fb->acllpm_fd, sizeof(struct kvb_acl_lpm_key),
			 sizeof(struct kvb_acl_bits), dead_lpm, &live);
	map_delete_where(fb->aclbit_fd, sizeof(struct kvb_acl_bit_key),
			 sizeof(struct kvb_acl_bit), dead_bit, &live);
out:
	free(groups);
	free(used);
	free(live.ids);
	free(inuse.ids);
	free(ps);
	return ret;
}

/* ------------------------------------------------------------ ports */

int acl_port_set(struct fabric *fb, const char *cmd, __u32 ifindex, int n,
		 const __u16 *ids)
{
	struct kvb_acl_port ap = { 0 }, old = { 0 };
	struct kvb_port p;

	if (n < 0)
		return 0;
	if (port_get(fb, ifindex, &p))
		return err("%s: no port on ifindex %u", cmd, ifindex);
	if (!aclp_get(fb, &p, &old))
		ap = old;
	ap.nacl = (__u8)n;
	memset(ap.acl, 0, sizeof(ap.acl));
	if (n)
		memcpy(ap.acl, ids, (size_t)n * sizeof(*ids));
	if (n)
		ap.flags |= KVB_ACLP_OWN;
	else
		ap.flags &= ~KVB_ACLP_OWN;
	if (aclp_put(fb, &p, &ap))
		return err("%s: cannot set the port's ACLs: %s", cmd,
			   strerror(errno));
	if (!acl_sync(fb, cmd))
		return 0;
	/*
	 * The sets cannot take it (over KVB_ACL_SET_RULES in a direction):
	 * the port's list goes back to what still judges it, or every later
	 * acl_sync (each attach's) would fail on it
	 */
	if (!aclp_get(fb, &p, &ap)) {
		ap.nacl = old.nacl;
		memcpy(ap.acl, old.acl, sizeof(ap.acl));
		ap.flags = (ap.flags & ~KVB_ACLP_OWN) |
			   (old.flags & KVB_ACLP_OWN);
		aclp_put(fb, &p, &ap);
	}
	return 1;
}

/* a port's sides of connections, as a walk of kvb_aclct (or kvb_aclct4)
 * finds them */
struct ct_forget {
	int fd;
	__u32 ifindex;
};

/*
 * A connection one of whose ends the port judged: the port's side goes.
 * The entry goes when no other port's side is left; otherwise it stays
 * with the other port's side (which keeps its count) and this one
 * cleared.
 */
static void ct_forget_one(const void *key, const void *value, void *arg)
{
	const struct ct_forget *f = arg;
	struct kvb_aclct e;
	bool other = false, mine = false;

	memcpy(&e, value, sizeof(e));
	for (int i = 0; i < 2; i++) {
		if (e.side[i].ifindex == f->ifindex) {
			memset(&e.side[i], 0, sizeof(e.side[i]));
			mine = true;
		} else if (e.side[i].ifindex) {
			other = true;
		}
	}
	if (!mine)
		return;
	if (other)
		bpf_map_update_elem(f->fd, key, &e, BPF_EXIST);
	else
		bpf_map_delete_elem(f->fd, key);
}

/* a port leaves: its ACLs, connections and their count go (an ifindex
 * and a slot are reused) */
void acl_port_forget(struct fabric *fb, const struct kvb_port *p)
{
	struct ct_forget f = { .fd = fb->aclct4_fd, .ifindex = p->ifindex };

	/* the entry first: no judgment adds a side behind the walk (the
	 * slot is the port's: acl_slot_clear below clears it anyway) */
	aclp_del(fb, p);
	map_walk(fb->aclct4_fd, sizeof(struct kvb_aclct4_key),
		 sizeof(struct kvb_aclct), ct_forget_one, &f);
	f.fd = fb->aclct_fd;
	map_walk(fb->aclct_fd, sizeof(struct kvb_aclct_key),
		 sizeof(struct kvb_aclct), ct_forget_one, &f);
	acl_slot_clear(fb, p->slot);
}

/* --------------------------------------------------------- commands */

static int acl_add(int argc, char **argv)
{
	struct fabric *fb;
	struct kvb_acl a = { 0 }, tmp;

	if (argc != 1)
		return err("acl add: expected NAME");
	if (!name_valid(argv[0]) || !strcmp(argv[0], "none"))
		return err("acl add: name '%s': use 1-%d characters of "
			   "[A-Za-z0-9_.-], not beginning with '-' (nor "
			   "'none', 'help')", argv[0], KVB_NAME_LEN - 1);
	fb = fab();
	if (!fb)
		return 1;
	if (!acl_find(fb, argv[0], &tmp))
		return err("acl add: acl %s already exists", argv[0]);
	for (a.id = 1; a.id <= KVB_MAX_ACLS; a.id++)
		if (acl_get(fb, a.id, &tmp))
			break;
	if (a.id > KVB_MAX_ACLS)
		return err("acl add: too many ACLs (%d)", KVB_MAX_ACLS);
	snprintf(a.name, sizeof(a.name), "%s", argv[0]);
	if (bpf_map_update_elem(fb->acl_fd, &a.id, &a, BPF_NOEXIST))
		return err("acl add: %s: %s", argv[0], strerror(errno));
	return 0;
}

/* who uses ACL id: ports (own lists) and networks, into buf; count */
static int acl_users(struct fabric *fb, __u32 id, char *buf, size_t len)
{
	struct kvb_port *ps;
	int n = port_list(fb, &ps), users = 0;
	size_t w = 0;

	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		__u16 ids[KVB_ACL_PER_PORT];
		int k = acl_port_own(fb, &ps[i], ids);

		for (int j = 0; j < k; j++)
			if (ids[j] == id && w < len) {
				w += (size_t)snprintf(buf + w, len - w,
						      "%sport %s", users ? ", " : "",
						      ps[i].name);
				users++;
			}
	}
	if (n > 0)
		free(ps);
	for (__u32 nid = 1; nid < KVB_MAX_NETS; nid++) {
		struct kvb_net net;

		if (net_get(fb, nid, &net))
			continue;
		for (int j = 0; j < net.nacl && j < KVB_ACL_PER_PORT; j++)
			if (net.acl[j] == id && w < len) {
				w += (size_t)snprintf(buf + w, len - w,
						      "%snetwork %s",
						      users ? ", " : "", net.name);
				users++;
			}
	}
	return users;
}

static void ctr_zero(struct fabric *fb, __u32 ctr)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kvb_acl_cnt *z = calloc((size_t)ncpu, sizeof(*z));

	if (z)
		bpf_map_update_elem(fb->aclcnt_fd, &ctr, z, BPF_ANY);
	free(z);
}

static int acl_del(int argc, char **argv)
{
	struct fabric *fb;
	struct kvb_acl a;
	char users[512];

	if (argc != 1)
		return err("acl del: expected NAME");
	fb = fab();
	if (!fb)
		return 1;
	if (acl_find(fb, argv[0], &a))
		return err("acl del: acl %s does not exist", argv[0]);
	if (acl_users(fb, a.id, users, sizeof(users)))
		return err("acl del: acl %s is in use by %s", argv[0], users);
	for (__u32 i = 0; i < a.nrules; i++) {
		struct kvb_acl_rule_key k = { .acl = a.id, .index = i };
		struct kvb_acl_rule r;

		if (!rule_get(fb, a.id, i, &r))
			ctr_zero(fb, r.ctr);
		bpf_map_delete_elem(fb->aclr_fd, &k);
	}
	bpf_map_delete_elem(fb->acl_fd, &a.id);
	return acl_tidy(fb, "acl del");
}

/* The index of ACL a's rule that reads as want (the same words), or -1. */
static int rule_index(struct fabric *fb, const struct kvb_acl *a,
		      const struct kvb_acl_rule *want)
{
	char w[1024], h[1024];
	struct kvb_acl_rule r;

	rule_fmt(want, w, sizeof(w));
	for (__u32 i = 0; i < a->nrules; i++)
		if (!rule_get(fb, a->id, i, &r)) {
			rule_fmt(&r, h, sizeof(h));
			if (!strcmp(w, h))
				return (int)i;
		}
	return -1;
}

static int rule_add(int argc, char **argv)
{
	struct kvb_acl_rule_key k;
	struct kvb_acl_rule r;
	struct fabric *fb;
	struct kvb_acl a;
	char users[64];
	__u32 slot;

	if (argc < 1)
		return err("acl rule add: expected NAME");
	if (rule_parse("acl rule add", argc - 1, argv + 1, &r))
		return 1;
	fb = fab();
	if (!fb)
		return 1;
	if (acl_find(fb, argv[0], &a))
		return err("acl rule add: acl %s does not exist", argv[0]);
	/* a second copy could never match (the first one does), and
	 * save/load would not tell the two apart */
	if (rule_index(fb, &a, &r) >= 0)
		return err("acl rule add: acl %s has this rule already (index "
			   "%d)", argv[0], rule_index(fb, &a, &r));
	if (a.nrules >= KVB_ACL_MAX_RULES)
		return err("acl rule add: acl %s has %d rules already",
			   argv[0], KVB_ACL_MAX_RULES);
	for (slot = 0; slot < KVB_ACL_MAX_RULES; slot++)
		if (!(a.ctr_used[slot / 64] & (1ULL << (slot % 64))))
			break;
	r.ctr = (a.id - 1) * KVB_ACL_MAX_RULES + slot + 1;
	ctr_zero(fb, r.ctr);
	k.acl = a.id;
	k.index = a.nrules;
	if (bpf_map_update_elem(fb->aclr_fd, &k, &r, BPF_ANY))
		return err("acl rule add: %s: %s", argv[0], strerror(errno));
	a.ctr_used[slot / 64] |= 1ULL << (slot % 64);
	a.nrules++;
	bpf_map_update_elem(fb->acl_fd, &a.id, &a, BPF_ANY);
	if (!acl_users(fb, a.id, users, sizeof(users)) || !acl_sync(fb,
								   "acl rule add"))
		return 0;
	/* a port cannot take it: the rule goes again */
	a.nrules--;
	a.ctr_used[slot / 64] &= ~(1ULL << (slot % 64));
	bpf_map_delete_elem(fb->aclr_fd, &k);
	bpf_map_update_elem(fb->acl_fd, &a.id, &a, BPF_ANY);
	acl_sync(fb, "acl rule add");
	return 1;
}

static int rule_del(int argc, char **argv)
{
	static struct kvb_acl_rule saved[KVB_ACL_MAX_RULES];
	struct kvb_acl_rule r;
	struct fabric *fb;
	struct kvb_acl a, orig;
	char users[64];
	__u32 idx;

	if (argc != 2)
		return err("acl rule del: expected NAME INDEX");
	fb = fab();
	if (!fb)
		return 1;
	if (acl_find(fb, argv[0], &a))
		return err("acl rule del: acl %s does not exist", argv[0]);
	if (parse_u32(argv[1], 0, a.nrules ? a.nrules - 1 : 0, &idx) ||
	    !a.nrules)
		return err("acl rule del: %s: index %s: acl %s has %u rules "
			   "(0-%u)", argv[0], argv[1], argv[0], a.nrules,
			   a.nrules ? a.nrules - 1 : 0);
	/* as it was, for a port that cannot take the change */
	orig = a;
	for (__u32 i = idx; i < a.nrules; i++)
		if (rule_get(fb, a.id, i, &saved[i - idx]))
			return err("acl rule del: %s: rule %u unreadable",
				   argv[0], i);
	if (!rule_get(fb, a.id, idx, &r)) {
		__u32 slot = r.ctr - 1 - (a.id - 1) * KVB_ACL_MAX_RULES;

		if (slot < KVB_ACL_MAX_RULES)
			a.ctr_used[slot / 64] &= ~(1ULL << (slot % 64));
	}
	/* the later rules move up one */
	for (__u32 i = idx; i + 1 < a.nrules; i++) {
		struct kvb_acl_rule_key k = { .acl = a.id, .index = i };

		if (!rule_get(fb, a.id, i + 1, &r))
			bpf_map_update_elem(fb->aclr_fd, &k, &r, BPF_ANY);
	}
	{
		struct kvb_acl_rule_key k = { .acl = a.id,
					      .index = a.nrules - 1 };

		bpf_map_delete_elem(fb->aclr_fd, &k);
	}
	a.nrules--;
	bpf_map_update_elem(fb->acl_fd, &a.id, &a, BPF_ANY);
	if (!acl_users(fb, a.id, users, sizeof(users)) ||
	    !acl_sync(fb, "acl rule del"))
		return 0;
	/* a port cannot take it (nothing switched): the rule comes back,
	 * so that the configuration says what the ports enforce */
	for (__u32 i = idx; i < orig.nrules; i++) {
		struct kvb_acl_rule_key k = { .acl = a.id, .index = i };

		bpf_map_update_elem(fb->aclr_fd, &k, &saved[i - idx], BPF_ANY);
	}
	bpf_map_update_elem(fb->acl_fd, &orig.id, &orig, BPF_ANY);
	acl_sync(fb, "acl rule del");
	return 1;
}

static struct kvb_acl_cnt ctr_sum(struct fabric *fb, __u32 ctr)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kvb_acl_cnt *v = calloc((size_t)ncpu, sizeof(*v)), s = { 0 };

	if (v && !bpf_map_lookup_elem(fb->aclcnt_fd, &ctr, v))
		for (int i = 0; i < ncpu; i++) {
			s.packets += v[i].packets;
			s.bytes += v[i].bytes;
		}
	free(v);
	return s;
}

static void show_acl(struct fabric *fb, const struct kvb_acl *a)
{
	char users[1024];

	acl_users(fb, a->id, users, sizeof(users));
	open_json_object(NULL);
	print_string(PRINT_ANY, "name", "acl %s", a->name);
	print_uint(PRINT_ANY, "id", " id %llu", a->id);
	print_uint(PRINT_ANY, "nrules", " rules %llu", a->nrules);
	print_string(PRINT_ANY, "used_by", " used by: %s\n",
		     users[0] ? users : NULL);
	open_json_array("rules");
	for (__u32 i = 0; i < a->nrules; i++) {
		struct kvb_acl_rule r;
		struct kvb_acl_cnt c;
		char line[1024];

		if (rule_get(fb, a->id, i, &r))
			continue;
		rule_fmt(&r, line, sizeof(line));
		c = ctr_sum(fb, r.ctr);
		open_json_object(NULL);
		print_uint(PRINT_ANY, "index", "  %llu:", i);
		print_string(PRINT_ANY, "rule", " %s", line);
		print_string(PRINT_JSON, "direction", NULL,
			     r.dir == KVB_ACL_IN ? "ingress" : "egress");
		print_string(PRINT_JSON, "action", NULL,
			     acl_action_name(r.action));
		print_uint(PRINT_ANY, "packets", "  packets %llu", c.packets);
		print_uint(PRINT_ANY, "bytes", " bytes %llu\n", c.bytes);
		close_json_object();
	}
	close_json_array();
	close_json_object();
}

static int acl_show(int argc, char **argv)
{
	struct fabric *fb;
	struct kvb_acl a;

	if (argc > 1)
		return err("acl show: unexpected argument '%s'", argv[1]);
	fb = fab_ro();
	if (!fb)
		return 1;
	if (argc == 1) {
		if (acl_find(fb, argv[0], &a))
			return err("acl show: acl %s does not exist", argv[0]);
		show_acl(fb, &a);
		return 0;
	}
	open_json_array(NULL);
	for (__u32 id = 1; id <= KVB_MAX_ACLS; id++)
		if (!acl_get(fb, id, &a))
			show_acl(fb, &a);
	close_json_array();
	return 0;
}

static int acl_rule(int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "add"))
		return rule_add(argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "del"))
		return rule_del(argc - 1, argv + 1);
	return err("acl rule: expected add or del (try 'kvmbpf acl help')");
}

/* save: the ACLs, before the networks and ports that name them */
void acl_save(struct fabric *fb, void (*line)(const char *text))
{
	char buf[1200], r[1024];
	struct kvb_acl a;

	for (__u32 id = 1; id <= KVB_MAX_ACLS; id++) {
		if (acl_get(fb, id, &a))
			continue;
		snprintf(buf, sizeof(buf), "acl add %s", a.name);
		line(buf);
		for (__u32 i = 0; i < a.nrules; i++) {
			struct kvb_acl_rule rule;

			if (rule_get(fb, a.id, i, &rule))
				continue;
			rule_fmt(&rule, r, sizeof(r));
			snprintf(buf, sizeof(buf), "acl rule add %s %s", a.name,
				 r);
			line(buf);
		}
	}
}

/*
 * load: `acl add NAME` of an ACL that exists, or `acl rule add NAME ...`
 * of a rule it has (the same words), is in effect already.
 */
bool acl_line_in_effect(struct fabric *fb, int argc, char **argv)
{
	struct kvb_acl_rule want;
	struct kvb_acl a;

	if (argc == 2 && !strcmp(argv[0], "add"))
		return !acl_find(fb, argv[1], &a);
	if (argc < 4 || strcmp(argv[0], "rule") || strcmp(argv[1], "add") ||
	    acl_find(fb, argv[2], &a))
		return false;
	if (rule_parse("load", argc - 3, argv + 3, &want))
		return false;
	return rule_index(fb, &a, &want) >= 0;
}

static void acl_details(void)
{
	printf("  An ACL is a named, ordered list of rules; a guest port uses\n"
	       "  its own ACLs ('attach ... acl', 'port set DEV acl'), else its\n"
	       "  network's ('net set NAME acl'). ingress: towards the guest;\n"
	       "  egress: from it. drop and reject rules win over allow; what\n"
	       "  no rule matches takes the network's default-ingress or\n"
	       "  default-egress (reject unless set). Stateful: the replies and\n"
	       "  ICMP errors of a connection let through pass back without a\n"
	       "  rule. A change applies to new connections at once, and an\n"
	       "  established connection the new rules forbid is cut. reject\n"
	       "  answers with a TCP RST or ICMP administratively prohibited\n"
	       "  (at most %d a second per port, after a burst of %d).\n"
	       "  'acl show' counts each rule's packets and bytes.\n\n"
	       "  RULE: ingress|egress allow|drop|reject [KEYWORD ARG]...\n",
	       KVB_ICMP_RATE, KVB_ICMP_BURST);
	keyword_help(rule_kws, ARRAY_SIZE(rule_kws));
	printf("Limits: %d ACLs, %d rules an ACL, %d ACLs a port, %d rules in\n"
	       "one direction of a port, %d CIDRs per src or dst.\n",
	       KVB_MAX_ACLS, KVB_ACL_MAX_RULES, KVB_ACL_PER_PORT,
	       KVB_ACL_SET_RULES, KVB_ACL_MAX_CIDRS);
}

const struct object obj_acl = {
	.name = "acl",
	.cmds = (const struct cmd[]){
		{ "add", acl_add, "NAME", CMD_TEND | CMD_CREATES },
		{ "del", acl_del, "NAME", CMD_TEND },
		{ "rule", acl_rule, "add NAME RULE | rule del NAME INDEX",
		  CMD_TEND },
		{ "show", acl_show, "[NAME]", 0 },
		{ "list", acl_show, NULL, 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = acl_details,
};
