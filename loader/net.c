// SPDX-License-Identifier: MIT
/*
 * Networks: their configuration (struct net_spec) and their life over the
 * ops table (nettype.c), and the `net` commands.
 *
 * Each keyword of a network's configuration is one entry of the field
 * table below, which holds all there is of it: its help, the types it is
 * for, how it is parsed into a net_spec, how it goes into the network
 * (apply), and how it is written out (format), the one function that
 * serves the text of `net show`, its JSON and the line `save` writes. So
 * a field cannot be shown, saved or parsed differently.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

#define KVB_DEFAULT_MTU 1500


static const char *const timeout_names[4] = {
	[KVB_CT_T_TCP_EST] = "tcp-established",
	[KVB_CT_T_TCP] = "tcp",
	[KVB_CT_T_UDP] = "udp",
	[KVB_CT_T_ICMP] = "icmp",
};
static const __u32 timeout_defaults[4] = {
	[KVB_CT_T_TCP_EST] = KVB_CT_TCP_EST_S,
	[KVB_CT_T_TCP] = KVB_CT_TCP_OTHER_S,
	[KVB_CT_T_UDP] = KVB_CT_UDP_S,
	[KVB_CT_T_ICMP] = KVB_CT_ICMP_S,
};

/*
 * Writing a field out: to `net show` (text " keyword value", JSON "key":
 * value) or to a save line (" keyword value", only what differs from the
 * default, so that load gives the same network).
 */
struct fmt {
	bool save;
	char *buf;
	size_t len, w;
};

struct net_field;
static void fmt_str(struct fmt *f, const struct net_field *fd,
		    const char *v, bool saved);
static void fmt_uint(struct fmt *f, const struct net_field *fd, __u64 v,
		     bool saved);

/* where a field is taken */
#define F_ADD 1U	/* net add */
#define F_SET 2U	/* net set */
#define F_JSON_ALL 4U	/* its JSON key in every type's object (null) */
#define F_BREAK 8U	/* text: on a line of its own */

struct net_field {
	struct keyword kw;	/* name, argument, help, the types that have any of these NT_* */
	const char *key;	/* JSON key */
	unsigned int flags;
	/* word(s) v into s; 0 or err()'s 1 */
	int (*parse)(const char *cmd, struct net_spec *s, char **v);
	/* s into n (net add, net set) */
	void (*apply)(const struct net_spec *s, struct kvb_net *n);
	/* n out through f */
	void (*format)(struct fabric *fb, const struct kvb_net *n,
		       const struct net_field *fd, struct fmt *f);
};

/* --------------------------------------------------------- the fields */

static int parse_type(const char *cmd, struct net_spec *s, char **v)
{
	if (net_type_parse(v[0], &s->type))
		return err("%s: type %s: expected bridge, internal, nat or routed",
			   cmd, v[0]);
	return 0;
}

static void format_type(struct fabric *fb, const struct kvb_net *n,
			const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	fmt_str(f, fd, net_type_name(n->type), true);
}

static int parse_uplink(const char *cmd, struct net_spec *s, char **v)
{
	(void)cmd;
	s->uplink = v[0];
	return 0;
}

static void format_uplink(struct fabric *fb, const struct kvb_net *n,
			  const struct net_field *fd, struct fmt *f)
{
	const char *name = NULL;
	char up[16];
	struct kvb_port p;

	if (n->uplink)
		name = ifname_of(n->uplink,
				 port_get(fb, n->uplink, &p) ? NULL : &p, up);
	/* an uplink whose device went: its name, hooked again when a
	 * device of that name comes (bridge_uplinks_follow), and what
	 * `save` keeps, as a nat network's `wan` */
	else if (net_has(n, NT_UPLINK) && n->wan_name[0])
		name = n->wan_name;
	fmt_str(f, fd, name, true);
}

static int parse_uplink_xdp(const char *cmd, struct net_spec *s, char **v)
{
	if (parse_onoff(v[0], &s->uplink_xdp))
		return err("%s: uplink-xdp %s: expected on or off", cmd, v[0]);
	return 0;
}

/* the uplink port's own setting (kvb_port), saved when on; while its
 * device is gone, what it had (bridge_uplinks_follow gives it back) */
static void format_uplink_xdp(struct fabric *fb, const struct kvb_net *n,
			      const struct net_field *fd, struct fmt *f)
{
	struct kvb_port p;
	bool kept = !n->uplink && n->wan_name[0] && net_has(n, NT_UPLINK);
	bool on = kept ? (n->flags & KVB_NET_F_UPLINK_XDP) :
		  n->uplink && !port_get(fb, n->uplink, &p) &&
		  p.role == KVB_PORT_UPLINK && (p.flags & KVB_PORT_F_XDP);

	fmt_str(f, fd, n->uplink || kept ? (on ? "on" : "off") : NULL, on);
}

/* net set ... uplink-xdp: add or remove XDP on the uplink in place */
static int uplink_xdp_set(struct fabric *fb, const struct kvb_net *n,
			  bool on)
{
	struct kvb_port p;

	if (!n->uplink || port_get(fb, n->uplink, &p) ||
	    p.role != KVB_PORT_UPLINK)
		return err("net set: %s: uplink-xdp: the network has no uplink",
			   n->name);
	return port_xdp_set(fb, "net set", &p, on);
}

static int parse_subnet(const char *cmd, struct net_spec *s, char **v)
{
	const char *what;

	if (s->nsubnets == KVB_MAX_SUBNETS)
		return err("%s: at most %d subnets", cmd, KVB_MAX_SUBNETS);
	if (subnet_parse(v[0], &s->subnets[s->nsubnets]))
		return err("%s: subnet %s: expected a.b.c.d/8-30 or an IPv6 "
			   "prefix /16-126, with no host bits", cmd, v[0]);
	what = subnet_reserved(&s->subnets[s->nsubnets]);
	if (what)
		return err("%s: subnet %s overlaps %s: a subnet must be "
			   "unicast space of its own", cmd, v[0], what);
	s->nsubnets++;
	return 0;
}

static void apply_subnet(const struct net_spec *s, struct kvb_net *n)
{
	n->nsubnets = s->nsubnets;
	memcpy(n->subnets, s->subnets, sizeof(n->subnets));
}

/* the subnets (gw false) or their gateways: a JSON array, repeated
 * keywords in text and save lines */
static void format_subnets(const struct kvb_net *n, const struct net_field *fd,
			   struct fmt *f, bool gw)
{
	char a[64];

	if (!f->save)
		open_json_array(fd->key);
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		subnet_fmt(&n->subnets[i], gw, a, sizeof(a));
		if (f->save || !is_json())
			fmt_str(f, fd, a, true);
		else
			print_string(PRINT_JSON, NULL, NULL, a);
	}
	if (!f->save)
		close_json_array();
}

static void format_subnet(struct fabric *fb, const struct kvb_net *n,
			  const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	format_subnets(n, fd, f, false);
}

static int parse_gateway(const char *cmd, struct net_spec *s, char **v)
{
	if (s->ngw == KVB_MAX_SUBNETS)
		return err("%s: at most %d gateways", cmd, KVB_MAX_SUBNETS);
	s->gws[s->ngw++] = v[0];
	return 0;
}

static void format_gateway(struct fabric *fb, const struct kvb_net *n,
			   const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	format_subnets(n, fd, f, true);
}

static int parse_wan(const char *cmd, struct net_spec *s, char **v)
{
	(void)cmd;
	s->wan = v[0];
	return 0;
}

static void format_wan(struct fabric *fb, const struct kvb_net *n,
		       const struct net_field *fd, struct fmt *f)
{
	char wn[16];

	(void)fb;
	/* by the name it was given: the device may be between two lives
	 * (a PPP link reconnecting) */
	fmt_str(f, fd, !n->wan ? NULL : n->wan_name[0] ? n->wan_name :
		ifname_of(n->wan, NULL, wn), true);
}

static int parse_wan_xdp(const char *cmd, struct net_spec *s, char **v)
{
	if (parse_onoff(v[0], &s->wan_xdp))
		return err("%s: wan-xdp %s: expected on or off", cmd, v[0]);
	return 0;
}

static void apply_wan_xdp(const struct net_spec *s, struct kvb_net *n)
{
	if (s->wan_xdp)
		n->flags |= KVB_NET_F_WAN_XDP;
	else
		n->flags &= ~KVB_NET_F_WAN_XDP;
}

/* saved when on */
static void format_wan_xdp(struct fabric *fb, const struct kvb_net *n,
			   const struct net_field *fd, struct fmt *f)
{
	bool on = n->flags & KVB_NET_F_WAN_XDP;

	(void)fb;
	fmt_str(f, fd, on ? "on" : "off", on);
}

static int parse_dhcp(const char *cmd, struct net_spec *s, char **v)
{
	if (parse_onoff(v[0], &s->dhcp))
		return err("%s: dhcp %s: expected on or off", cmd, v[0]);
	return 0;
}

static void apply_dhcp(const struct net_spec *s, struct kvb_net *n)
{
	if (s->dhcp)
		n->flags |= KVB_NET_F_DHCP;
	else
		n->flags &= ~KVB_NET_F_DHCP;
}

static void format_dhcp(struct fabric *fb, const struct kvb_net *n,
			const struct net_field *fd, struct fmt *f)
{
	bool on = n->flags & KVB_NET_F_DHCP;

	(void)fb;
	/* routed networks' default (off) is not written: their lines
	 * stay what they were before they had the word */
	if (f->save && !on && net_has(n, NT_ROUTED))
		return;
	if (f->save || !is_json())
		fmt_str(f, fd, on ? "on" : "off", true);
	else
		print_bool(PRINT_JSON, fd->key, NULL, on);
}

static int parse_mtu(const char *cmd, struct net_spec *s, char **v)
{
	if (parse_u32(v[0], 68, 65535, &s->mtu))
		return err("%s: mtu %s: expected 68-65535", cmd, v[0]);
	return 0;
}

static void apply_mtu(const struct net_spec *s, struct kvb_net *n)
{
	n->mtu = s->mtu;
}

/* saved unless derived (KVB_NET_F_MTU_DERIVED): `load` derives it again
 * from the uplink or underlay as they are then, as `net add` did */
static void format_mtu(struct fabric *fb, const struct kvb_net *n,
		       const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	fmt_uint(f, fd, n->mtu, !(n->flags & KVB_NET_F_MTU_DERIVED));
}

static int parse_force(const char *cmd, struct net_spec *s, char **v)
{
	(void)cmd;
	(void)v;
	s->force = true;
	return 0;
}

static void apply_force(const struct net_spec *s, struct kvb_net *n)
{
	if (s->force)
		n->flags |= KVB_NET_F_FORCE;
}

static void format_force(struct fabric *fb, const struct kvb_net *n,
			 const struct net_field *fd, struct fmt *f)
{
	bool on = n->flags & KVB_NET_F_FORCE;

	(void)fb;
	if (f->save) {		/* a word on its own */
		if (on && f->w < f->len)
			f->w += (size_t)snprintf(f->buf + f->w, f->len - f->w,
						 " %s", fd->kw.name);
		return;
	}
	print_bool(PRINT_JSON, fd->key, NULL, on);
	if (on)
		print_text(" %s", fd->kw.name);
}

static int parse_ct_max(const char *cmd, struct net_spec *s, char **v)
{
	if (parse_u32(v[0], 1, KVB_MAX_CT / 2, &s->ct_max))
		return err("%s: ct-max %s: expected 1-%d", cmd, v[0],
			   KVB_MAX_CT / 2);
	return 0;
}

static void apply_ct_max(const struct net_spec *s, struct kvb_net *n)
{
	n->ct_max = s->ct_max;
}

static void format_ct_max(struct fabric *fb, const struct kvb_net *n,
			  const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	fmt_uint(f, fd, n->ct_max ? n->ct_max : KVB_MAX_CT / 2, n->ct_max);
}

static int parse_ct_port_max(const char *cmd, struct net_spec *s, char **v)
{
	if (parse_u32(v[0], 1, KVB_MAX_CT / 2, &s->ct_port_max))
		return err("%s: ct-port-max %s: expected 1-%d", cmd, v[0],
			   KVB_MAX_CT / 2);
	return 0;
}

static void apply_ct_port_max(const struct net_spec *s, struct kvb_net *n)
{
	n->ct_port_max = s->ct_port_max;
}

static void format_ct_port_max(struct fabric *fb, const struct kvb_net *n,
			       const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	fmt_uint(f, fd, n->ct_port_max ? n->ct_port_max : KVB_CT_PORT_FLOWS,
		 n->ct_port_max);
}

static int parse_ct_timeout(const char *cmd, struct net_spec *s, char **v)
{
	int t = -1;

	for (int k = 0; k < 4; k++)
		if (!strcmp(v[0], timeout_names[k]))
			t = k;
	if (t < 0)
		return err("%s: ct-timeout %s: expected tcp-established, tcp, "
			   "udp or icmp", cmd, v[0]);
	/* repeated for each kind, once a kind */
	if (s->ct_timeout[t])
		return err("%s: ct-timeout %s given twice (%u, then %s)", cmd,
			   v[0], s->ct_timeout[t], v[1]);
	if (parse_u32(v[1], 1, 864000, &s->ct_timeout[t]))
		return err("%s: ct-timeout %s %s: expected 1-864000 seconds",
			   cmd, v[0], v[1]);
	return 0;
}

static void apply_ct_timeout(const struct net_spec *s, struct kvb_net *n)
{
	for (int k = 0; k < 4; k++)
		if (s->ct_timeout[k])
			n->ct_timeout[k] = s->ct_timeout[k];
}

/* JSON: {"kind": seconds}; text and save: ct-timeout KIND SECONDS each */
static void format_ct_timeout(struct fabric *fb, const struct kvb_net *n,
			      const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	if (!f->save)
		open_json_object(fd->key);
	for (int k = 0; k < 4; k++) {
		__u32 v = n->ct_timeout[k] ? n->ct_timeout[k] :
					     timeout_defaults[k];
		char word[48];

		/* a timeout set to its default is the default (the
		 * datapath's reading of 0): `load` of a file saved before
		 * such a `net set` finds the network as it is (bb25) */
		if (f->save && v == timeout_defaults[k])
			continue;
		if (f->save) {
			if (f->w < f->len)
				f->w += (size_t)snprintf(f->buf + f->w,
							 f->len - f->w,
							 " %s %s %u",
							 fd->kw.name,
							 timeout_names[k], v);
			continue;
		}
		snprintf(word, sizeof(word), " %s %s %%llu", fd->kw.name,
			 timeout_names[k]);
		print_uint(PRINT_ANY, timeout_names[k], word, v);
	}
	if (!f->save)
		close_json_object();
}

/* RFC 4787's filtering behaviours, by enum kvb_nat_filter. */
static const char *const filter_names[3] = {
	[KVB_NAT_FILTER_ADDR_PORT] = "address-port",
	[KVB_NAT_FILTER_ADDR] = "address",
	[KVB_NAT_FILTER_ENDPOINT] = "endpoint-independent",
};

const char *nat_filter_name(__u32 f)
{
	return f < 3 ? filter_names[f] : "?";
}

static int parse_nat_filter(const char *cmd, struct net_spec *s, char **v)
{
	for (__u32 k = 0; k < 3; k++)
		if (!strcmp(v[0], filter_names[k])) {
			s->nat_filter = k;
			return 0;
		}
	return err("%s: nat-filtering %s: expected endpoint-independent, "
		   "address or address-port", cmd, v[0]);
}

static void apply_nat_filter(const struct net_spec *s, struct kvb_net *n)
{
	n->nat_filter = s->nat_filter;
}

/* saved when not the default; shown with the mapping (always
 * endpoint-independent: JSON nat_mapping) */
static void format_nat_filter(struct fabric *fb, const struct kvb_net *n,
			      const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	if (!f->save)
		print_string(PRINT_ANY, "nat_mapping", " nat-mapping %s",
			     "endpoint-independent");
	fmt_str(f, fd, nat_filter_name(n->nat_filter), n->nat_filter != 0);
}

static int parse_vni(const char *cmd, struct net_spec *s, char **v)
{
	if (parse_u32(v[0], 1, KVB_MAX_VNI, &s->vni))
		return err("%s: vni %s: expected 1-%u", cmd, v[0], KVB_MAX_VNI);
	return 0;
}

static void apply_vni(const struct net_spec *s, struct kvb_net *n)
{
	n->vni = s->vni;
}

static void format_vni(struct fabric *fb, const struct kvb_net *n,
		       const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	if (n->vni)
		fmt_uint(f, fd, n->vni, true);
	else
		fmt_str(f, fd, NULL, false);
}

/*
 * Why a is no other host's underlay address, or NULL: not a unicast
 * address (loopback, unspecified, multicast, IPv4's reserved 240/4 and
 * limited broadcast, link-local), or this host's own (one of its
 * addresses, or an IPv4 subnet broadcast or network address of one: a
 * host lists the others, not itself; frames from a vtep are trusted,
 * and a vtep of 127.0.0.1 would trust any local process).
 */
static const char *vtep_unfit(const struct kvb_vtep_addr *a)
{
	struct kvb_subnet sn = { .family = a->family,
				 .prefixlen = a->family == 4 ? 32 : 128 };
	struct ifaddrs *ifa, *i;
	const char *why = NULL;

	memcpy(sn.addr, a->addr, 16);
	if (subnet_reserved(&sn))
		return "not another host's unicast address";
	if (getifaddrs(&ifa))
		return NULL;
	for (i = ifa; i && !why; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa)
			continue;
		if (a->family == 4 && sa->sa_family == AF_INET) {
			const struct sockaddr_in *b =
				(const void *)i->ifa_broadaddr;
			const struct sockaddr_in *m =
				(const void *)i->ifa_netmask;
			__be32 own = ((const struct sockaddr_in *)(const void *)
				      sa)->sin_addr.s_addr, v;

			memcpy(&v, a->addr, 4);
			if (own == v)
				why = "an address of this host";
			else if ((i->ifa_flags & IFF_BROADCAST) && b &&
				 b->sin_addr.s_addr == v)
				why = "a broadcast address of this host's";
			/* the subnet's broadcast, whether or not the address
			 * was given one (`ip addr add A/24` gives none, and
			 * the kernel's local table has it all the same);
			 * a /31 or /32 has none */
			else if (m && ntohl(m->sin_addr.s_addr) < 0xfffffffe) {
				__be32 mask = m->sin_addr.s_addr;

				if ((own | ~mask) == v)
					why = "a broadcast address of this "
					      "host's";
				/* and its network address, no host's either
				 * (the old all-zeros broadcast some stacks
				 * still take) */
				else if ((own & mask) == v)
					why = "the network address of a subnet "
					      "of this host's";
			}
		} else if (a->family == 6 && sa->sa_family == AF_INET6 &&
			   !memcmp(&((const struct sockaddr_in6 *)(const void *)
				     sa)->sin6_addr, a->addr, 16)) {
			why = "an address of this host";
		}
	}
	freeifaddrs(ifa);
	return why;
}

/* one underlay address into list (of *cnt), given once */
static int parse_vtep_into(const char *cmd, const char *word, const char *v,
			   struct kvb_vtep_addr *list, __u32 *cnt)
{
	struct kvb_vtep_addr a;
	const char *why;
	char buf[64];

	if (vtep_parse(v, &a))
		return err("%s: %s %s: expected an IPv4 or IPv6 address", cmd,
			   word, v);
	vtep_fmt(&a, buf);
	if (a.family == 6 && a.addr[0] == 0xfe && (a.addr[1] & 0xc0) == 0x80)
		return err("%s: %s %s: a link-local address is no underlay "
			   "address", cmd, word, v);
	/* one to take out is taken out, whatever it has become */
	why = strcmp(word, "vtep-del") ? vtep_unfit(&a) : NULL;
	if (why)
		return err("%s: %s %s: %s (a vtep is another host's underlay "
			   "address)", cmd, word, v, why);
	if (vtep_index(list, *cnt, &a) >= 0)
		return err("%s: %s %s given twice", cmd, word, buf);
	if (*cnt >= KVB_MAX_VTEPS)
		return err("%s: at most %d vteps", cmd, KVB_MAX_VTEPS);
	list[(*cnt)++] = a;
	return 0;
}

static int parse_vtep(const char *cmd, struct net_spec *s, char **v)
{
	return parse_vtep_into(cmd, "vtep", v[0], s->vteps, &s->nvteps);
}

static void apply_vtep(const struct net_spec *s, struct kvb_net *n)
{
	n->nvteps = s->nvteps;
	memset(n->vteps, 0, sizeof(n->vteps));
	memcpy(n->vteps, s->vteps, s->nvteps * sizeof(s->vteps[0]));
}

/* JSON: an array; text and save: vtep ADDR each */
static void format_vtep(struct fabric *fb, const struct kvb_net *n,
			const struct net_field *fd, struct fmt *f)
{
	char a[64];

	(void)fb;
	/* vteps without a VNI (an older build let net set make them) do
	 * nothing, and load would refuse the line: not saved */
	if (f->save && !n->vni)
		return;
	if (!f->save)
		open_json_array(fd->key);
	for (__u32 i = 0; i < n->nvteps && i < KVB_MAX_VTEPS; i++) {
		vtep_fmt(&n->vteps[i], a);
		if (f->save || !is_json())
			fmt_str(f, fd, a, true);
		else
			print_string(PRINT_JSON, NULL, NULL, a);
	}
	if (!f->save)
		close_json_array();
}

static int parse_vtep_add(const char *cmd, struct net_spec *s, char **v)
{
	return parse_vtep_into(cmd, "vtep-add", v[0], s->add, &s->nadd);
}

static void apply_vtep_add(const struct net_spec *s, struct kvb_net *n)
{
	for (__u32 i = 0; i < s->nadd; i++)
		if (vtep_index(n->vteps, n->nvteps, &s->add[i]) < 0 &&
		    n->nvteps < KVB_MAX_VTEPS)
			n->vteps[n->nvteps++] = s->add[i];
}

static int parse_vtep_del(const char *cmd, struct net_spec *s, char **v)
{
	return parse_vtep_into(cmd, "vtep-del", v[0], s->del, &s->ndel);
}

static void apply_vtep_del(const struct net_spec *s, struct kvb_net *n)
{
	for (__u32 i = 0; i < s->ndel; i++) {
		int k = vtep_index(n->vteps, n->nvteps, &s->del[i]);

		if (k < 0)
			continue;
		memmove(&n->vteps[k], &n->vteps[k + 1],
			(n->nvteps - (__u32)k - 1) * sizeof(n->vteps[0]));
		memset(&n->vteps[--n->nvteps], 0, sizeof(n->vteps[0]));
	}
}

/* net set's words only: nothing of their own to show or save */
static void format_none(struct fabric *fb, const struct kvb_net *n,
			const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	(void)n;
	(void)fd;
	(void)f;
}



static int parse_acl(const char *cmd, struct net_spec *s, char **v)
{
	if (!strcmp(v[0], "none")) {
		s->nacl = 0;
		return 0;
	}
	/* no fabric yet (net add): no ACL, and none made to find that out */
	if (!fabric_exists(opts.bpffs))
		return err("%s: acl %s does not exist", cmd, v[0]);
	return acl_list_parse(fab(), cmd, v[0], s->acl, &s->nacl) ? 1 : 0;
}

static void apply_acl(const struct net_spec *s, struct kvb_net *n)
{
	memset(n->acl, 0, sizeof(n->acl));
	memcpy(n->acl, s->acl, (size_t)s->nacl * sizeof(s->acl[0]));
	n->nacl = (__u8)s->nacl;
}

/* JSON: an array of names; text and save: acl a,b (none: not saved) */
static void format_acl(struct fabric *fb, const struct kvb_net *n,
		       const struct net_field *fd, struct fmt *f)
{
	char names[256];
	int k = n->nacl > KVB_ACL_PER_PORT ? KVB_ACL_PER_PORT : n->nacl;

	acl_list_fmt(fb, n->acl, k, names, sizeof(names));
	if (f->save || !is_json()) {
		fmt_str(f, fd, k ? names : "none", k > 0);
		return;
	}
	open_json_array(fd->key);
	for (int i = 0; i < k; i++) {
		acl_list_fmt(fb, &n->acl[i], 1, names, sizeof(names));
		print_string(PRINT_JSON, NULL, NULL, names);
	}
	close_json_array();
}

static int parse_acl_default(const char *cmd, __u8 *a, const char *kw,
			     const char *v)
{
	if (acl_action_parse(v, a))
		return err("%s: %s %s: expected allow, drop or reject", cmd, kw,
			   v);
	return 0;
}

static int parse_def_in(const char *cmd, struct net_spec *s, char **v)
{
	return parse_acl_default(cmd, &s->acl_default[KVB_ACL_IN],
				 "default-ingress", v[0]);
}

static int parse_def_out(const char *cmd, struct net_spec *s, char **v)
{
	return parse_acl_default(cmd, &s->acl_default[KVB_ACL_OUT],
				 "default-egress", v[0]);
}

static void apply_def_in(const struct net_spec *s, struct kvb_net *n)
{
	n->acl_default[KVB_ACL_IN] = s->acl_default[KVB_ACL_IN];
}

static void apply_def_out(const struct net_spec *s, struct kvb_net *n)
{
	n->acl_default[KVB_ACL_OUT] = s->acl_default[KVB_ACL_OUT];
}

static int parse_acl_ct_max(const char *cmd, struct net_spec *s, char **v)
{
	if (parse_u32(v[0], 1, KVB_ACL_MAX_CT, &s->acl_ct_max))
		return err("%s: acl-ct-max %s: expected 1-%d", cmd, v[0],
			   KVB_ACL_MAX_CT);
	return 0;
}

static void apply_acl_ct_max(const struct net_spec *s, struct kvb_net *n)
{
	n->acl_ct_max = s->acl_ct_max;
}

static void format_acl_ct_max(struct fabric *fb, const struct kvb_net *n,
			      const struct net_field *fd, struct fmt *f)
{
	(void)fb;
	fmt_uint(f, fd, n->acl_ct_max ? n->acl_ct_max : KVB_ACL_CT_PORT,
		 n->acl_ct_max);
}

/* saved when not the default (reject) */
static void format_def_in(struct fabric *fb, const struct kvb_net *n,
			  const struct net_field *fd, struct fmt *f)
{
	__u8 a = n->acl_default[KVB_ACL_IN];

	(void)fb;
	fmt_str(f, fd, acl_action_name(a), a != KVB_ACL_REJECT);
}

static void format_def_out(struct fabric *fb, const struct kvb_net *n,
			   const struct net_field *fd, struct fmt *f)
{
	__u8 a = n->acl_default[KVB_ACL_OUT];

	(void)fb;
	fmt_str(f, fd, acl_action_name(a), a != KVB_ACL_REJECT);
}

enum { NF_TYPE };
static const struct net_field fields[] = {
	[NF_TYPE] = { { "type", "TYPE", "bridge, internal, nat or routed", 0,
		        0 },
		      "type", F_ADD, parse_type, NULL, format_type },
	{ { "uplink", "DEV", "the host NIC the guests share the LAN of\n"
	    "(and the host itself)", NT_UPLINK, 0 },
	  "uplink", F_ADD | F_JSON_ALL, parse_uplink, NULL, format_uplink },
	{ { "uplink-xdp", "on|off", "on: XDP on the uplink forwards the LAN's\n"
	    "complete known-unicast frames to tap guests\n"
	    "itself (tc judges the rest); off (default):\n"
	    "tc alone (README, Datapath)", NT_UPLINK, 0 },
	  "uplink_xdp", F_ADD | F_SET | F_JSON_ALL, parse_uplink_xdp, NULL,
	  format_uplink_xdp },
	{ { "subnet", "CIDR", "nat: one IPv4 subnet (translated) and IPv6\n"
	    "ones (routed); routed: up to 4, IPv4 and IPv6\n(repeat)",
	    NT_GATEWAY, KW_REPEAT },
	  "subnets", F_ADD, parse_subnet, apply_subnet, format_subnet },
	{ { "gateway", "ADDR", "a subnet's gateway (default: its first\n"
	    "address), on the host interface kvbgwID", NT_GATEWAY, KW_REPEAT },
	  "gateways", F_ADD, parse_gateway, NULL, format_gateway },
	{ { "wan", "DEV", "nat: translate through DEV only (default:\n"
	    "any route, through the device the FIB picks,\nto its address); "
	    "routed: where the outside's\ntraffic to the subnets arrives",
	    NT_GATEWAY, 0 },
	  "wan", F_ADD, parse_wan, NULL, format_wan },
	{ { "wan-xdp", "on|off", "on (with wan): XDP on the wan device\n"
	    "translates the replies of established flows\n"
	    "to tap guests itself (tc judges the rest);\n"
	    "off (default): tc alone (README, Datapath)", NT_NAT, 0 },
	  "wan_xdp", F_ADD | F_SET, parse_wan_xdp, apply_wan_xdp,
	  format_wan_xdp },
	{ { "dhcp", "on|off", "dnsmasq on the gateway interface: DHCPv4,\n"
	    "and stateful DHCPv6 (RA M flag, no SLAAC) on\n"
	    "IPv6 subnets (default: on for nat, off for\nrouted)",
	    NT_GATEWAY, 0 },
	  "dhcp", F_ADD, parse_dhcp, apply_dhcp, format_dhcp },
	{ { "mtu", "N", "68-65535 (1280 or more with an IPv6 subnet),\n"
	    "default 1500 (spanning hosts: what the underlay\ncarries)",
	    0, 0 },
	  "mtu", F_ADD, parse_mtu, apply_mtu, format_mtu },
	{ { "force", NULL, "create it even where its subnet overlaps an\n"
	    "address or a route of the host", NT_GATEWAY, 0 },
	  "force", F_ADD, parse_force, apply_force, format_force },
	{ { "vni", "N", "span hosts: the VXLAN network identifier\n"
	    "(1-16777215), the same on every host of the\nnetwork",
	    NT_OVERLAY, 0 },
	  "vni", F_ADD | F_SET | F_JSON_ALL, parse_vni, apply_vni,
	  format_vni },
	{ { "vtep", "ADDR", "another host of the network: its underlay\n"
	    "address, IPv4 or IPv6 (repeat; net set:\nthe whole list)",
	    NT_OVERLAY, KW_REPEAT },
	  "vteps", F_ADD | F_SET | F_JSON_ALL, parse_vtep, apply_vtep,
	  format_vtep },
	/* applied in this order: a host leaves before one joins (a
	 * replace at the limit has room) */
	{ { "vtep-del", "ADDR", "net set: a host leaves (repeat)", NT_OVERLAY,
	    KW_REPEAT },
	  NULL, F_SET, parse_vtep_del, apply_vtep_del, format_none },
	{ { "vtep-add", "ADDR", "net set: a host joins (repeat)", NT_OVERLAY,
	    KW_REPEAT },
	  NULL, F_SET, parse_vtep_add, apply_vtep_add, format_none },
	{ { "ct-max", "N", "flows at once (default and most: half the\n"
	    "flow table)", NT_NAT, 0 },
	  "ct_max", F_ADD | F_SET | F_BREAK, parse_ct_max, apply_ct_max,
	  format_ct_max },
	{ { "ct-port-max", "N", "flows one guest port holds at once\n"
	    "(default 131072; beyond, its new flows are\nrefused: "
	    "nat-port-full)", NT_NAT, 0 },
	  "ct_port_max", F_ADD | F_SET | F_BREAK, parse_ct_port_max,
	  apply_ct_port_max, format_ct_port_max },
	{ { "ct-timeout", "KIND SECONDS", "idle timeout of tcp-established,\n"
	    "tcp, udp or icmp flows (repeat)", NT_NAT, KW_REPEAT },
	  "ct_timeouts", F_ADD | F_SET, parse_ct_timeout, apply_ct_timeout,
	  format_ct_timeout },
	{ { "nat-filtering", "MODE", "what comes in to a guest's NAT mapping\n"
	    "unasked: from its flows' remotes only\n(address-port, default), "
	    "from addresses it\nsent to (address), from anyone\n"
	    "(endpoint-independent)", NT_NAT, 0 },
	  "nat_filtering", F_ADD | F_SET | F_BREAK, parse_nat_filter,
	  apply_nat_filter, format_nat_filter },
	{ { "acl", "NAME[,NAME...]|none", "the ACLs of its ports that name\n"
	    "none of their own ('kvmbpf acl help')", 0, 0 },
	  "acl", F_ADD | F_SET | F_BREAK, parse_acl, apply_acl, format_acl },
	{ { "default-ingress", "allow|drop|reject", "what traffic towards a\n"
	    "guest with ACLs that no rule matches gets\n(default reject)",
	    0, 0 },
	  "default_ingress", F_ADD | F_SET, parse_def_in, apply_def_in,
	  format_def_in },
	{ { "default-egress", "allow|drop|reject", "the same from the guest",
	    0, 0 },
	  "default_egress", F_ADD | F_SET, parse_def_out, apply_def_out,
	  format_def_out },
	{ { "acl-ct-max", "N", "connections each port's ACLs remember\n"
	    "(default 65536; beyond, a new one is\nrefused: acl-ct-full)",
	    0, 0 },
	  "acl_ct_max", F_ADD | F_SET | F_BREAK, parse_acl_ct_max,
	  apply_acl_ct_max, format_acl_ct_max },
};
#define NFIELDS ARRAY_SIZE(fields)

static void fmt_str(struct fmt *f, const struct net_field *fd,
		    const char *v, bool saved)
{
	if (f->save) {
		if (saved && v && f->w < f->len)
			f->w += (size_t)snprintf(f->buf + f->w, f->len - f->w,
						 " %s %s", fd->kw.name, v);
		return;
	}
	if (v) {
		char fmtbuf[48];

		snprintf(fmtbuf, sizeof(fmtbuf), " %s %%s", fd->kw.name);
		print_string(PRINT_ANY, fd->key, fmtbuf, v);
	} else {
		print_string(PRINT_JSON, fd->key, NULL, NULL);
	}
}

static void fmt_uint(struct fmt *f, const struct net_field *fd, __u64 v,
		     bool saved)
{
	char s[24];

	if (f->save || !is_json()) {
		snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
		fmt_str(f, fd, s, saved);
		return;
	}
	print_uint(PRINT_JSON, fd->key, NULL, v);
}

/* Every field of n that its type has, in the table's order. */
static void net_format(struct fabric *fb, const struct kvb_net *n,
		       struct fmt *f)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct net_field *fd = &fields[i];

		if (fd->kw.only && !type_has(n->type, fd->kw.only)) {
			if ((fd->flags & F_JSON_ALL) && !f->save)
				print_null(fd->key);
			continue;
		}
		if ((fd->flags & F_BREAK) && !f->save)
			print_text("\n ");
		fd->format(fb, n, fd, f);
	}
}

/* The line `save` writes for n, and `load` compares with. */
void net_line(struct fabric *fb, const struct kvb_net *n, char *buf,
	      size_t len)
{
	struct fmt f = { .save = true, .buf = buf, .len = len };

	f.w = (size_t)snprintf(buf, len, "net add %s", n->name);
	net_format(fb, n, &f);
}

/* ---------------------------------------------------- parse and apply */

/*
 * KEYWORD ARG... into s, for net add (where F_ADD) or net set (F_SET).
 * A keyword of another type than s->type is refused once the type is
 * known (net add: after the loop; net set: s->type is the network's).
 */
int net_spec_parse(const char *cmd, int argc, char **argv, unsigned int where,
		   struct net_spec *s)
{
	struct kw_seen seen = { 0 };

	for (int i = 0; i < argc;) {
		const struct net_field *fd = NULL;

		for (size_t k = 0; k < NFIELDS; k++)
			if ((fields[k].flags & where) &&
			    !strcmp(fields[k].kw.name, argv[i]))
				fd = &fields[k];
		if (!fd)
			return err("%s: unknown keyword '%s' (try 'kvmbpf net "
				   "help')", cmd, argv[i]);
		if (keyword_take(cmd, &fd->kw, (unsigned int)(fd - fields),
				 argc, argv, i, &seen) ||
		    fd->parse(cmd, s, argv + i + 1))
			return 1;
		s->given |= 1U << (fd - fields);
		i += 1 + keyword_nargs(&fd->kw);
	}
	if (!s->type)
		return err("%s: missing 'type bridge|internal|nat|routed'", cmd);
	/* a keyword of another type: "uplink is for bridge networks only" */
	for (size_t k = 0; k < NFIELDS; k++) {
		char types[64] = "";
		size_t w = 0;

		if (!(s->given & (1U << k)) || !fields[k].kw.only ||
		    type_has(s->type, fields[k].kw.only))
			continue;
		for (__u32 t = 0; (t = net_type_next(t));)
			if (type_has(t, fields[k].kw.only))
				w += (size_t)snprintf(types + w, sizeof(types) - w,
						      "%s%s", w ? " and " : "",
						      net_type_name(t));
		return err("%s: %s is for %s networks only", cmd,
			   fields[k].kw.name, types);
	}
	return 0;
}

/* The fields given in s into n. */
static void net_spec_apply(const struct net_spec *s, struct kvb_net *n)
{
	for (size_t k = 0; k < NFIELDS; k++)
		if ((s->given & (1U << k)) && fields[k].apply)
			fields[k].apply(s, n);
}

/*
 * Do two `net add` argument lists (NAME KEYWORD ARG...) say the same
 * network? Each is parsed and applied to a network with net_create's
 * defaults, without the fabric: a hand-written line that leaves a
 * default out, or spells an address otherwise, says what save's says.
 */
bool net_add_same(int an, char **aw, int bn, char **bw)
{
	struct net_spec sa, sb;
	struct kvb_net na = { 0 }, nb = { 0 };

	if (net_add_spec(an, aw, &sa) || net_add_spec(bn, bw, &sb) ||
	    sa.type != sb.type)
		return false;
	na.type = nb.type = sa.type;
	na.mtu = nb.mtu = KVB_DEFAULT_MTU;
	na.flags = nb.flags = type_has(sa.type, NT_NAT) ? KVB_NET_F_DHCP : 0;
	net_spec_apply(&sa, &na);
	net_spec_apply(&sb, &nb);
	/* what the type's validate takes from the spec, not the table's
	 * apply: the devices by name, uplink-xdp, the gateways (each
	 * subnet's, given or its first host address) */
	if (!sa.uplink != !sb.uplink || (sa.uplink && strcmp(sa.uplink, sb.uplink)) ||
	    !sa.wan != !sb.wan || (sa.wan && strcmp(sa.wan, sb.wan)) ||
	    sa.uplink_xdp != sb.uplink_xdp || sa.wan_xdp != sb.wan_xdp)
		return false;
	if (na.nsubnets > KVB_MAX_SUBNETS || nb.nsubnets > KVB_MAX_SUBNETS ||
	    subnets_gateways(na.subnets, (int)na.nsubnets, (char **)sa.gws,
			     sa.ngw) ||
	    subnets_gateways(nb.subnets, (int)nb.nsubnets, (char **)sb.gws,
			     sb.ngw))
		return false;
	return !memcmp(&na, &nb, sizeof(na));
}

static int alloc_id(struct fabric *fb, __u32 *id)
{
	struct kvb_net tmp;

	for (__u32 i = 1; i < KVB_MAX_NETS; i++) {
		if (net_get(fb, i, &tmp)) {
			*id = i;
			return 0;
		}
	}
	return -ENOSPC;
}

static bool field_given(const struct net_spec *s, const char *name)
{
	for (size_t k = 0; k < NFIELDS; k++)
		if (!strcmp(fields[k].kw.name, name))
			return s->given & (1U << k);
	return false;
}

/* net add's last step: network id is whole (KVB_NET_F_CREATING off) */
static int net_whole(struct fabric *fb, __u32 id)
{
	struct kvb_net n;

	if (net_get(fb, id, &n))
		return err("net add: network %u vanished", id);
	n.flags &= ~KVB_NET_F_CREATING;
	if (net_put(fb, &n))
		return err("net add: %s: %s", n.name, strerror(errno));
	return 0;
}

/* Make the network s describes: its type's validate, the map, create. */
int net_create(struct fabric *fb, struct net_spec *s)
{
	const struct net_ops *ops = net_ops(s->type);
	struct kvb_net net = { .type = s->type, .mtu = KVB_DEFAULT_MTU,
			       .flags = type_has(s->type, NT_NAT) ?
					KVB_NET_F_DHCP : 0 }, tmp;

	snprintf(net.name, sizeof(net.name), "%s", s->name);
	if (!net_find(fb, s->name, &tmp))
		return err("net add: network %s already exists", s->name);
	if (alloc_id(fb, &net.id))
		return err("net add: too many networks (%d)", KVB_MAX_NETS - 1);
	/* reservations a former network of this id left (an older
	 * build's net del knew none) are not the new one's */
	dhcphost_purge(fb, net.id);
	net_spec_apply(s, &net);
	if (ops->validate && ops->validate(fb, s, &net))
		return 1;
	if (overlay_check(fb, "net add", NULL, &net, field_given(s, "mtu")) ||
	    uplink_mtu_fit("net add", s->uplink, &net, field_given(s, "mtu")))
		return 1;
	/* IPv6 needs 1280 on every link: the kernel refuses the gateway's
	 * address on a smaller one, late and naming no cause */
	if ((net.flags & KVB_NET_F_IP6) && net.mtu < 1280)
		return field_given(s, "mtu") ?
		       err("net add: mtu %u: a network with an IPv6 subnet "
			   "needs 1280 or more", net.mtu) :
		       err("net add: %s: its MTU would be %u (what the "
			   "underlay carries inside VXLAN): a network with an "
			   "IPv6 subnet needs 1280 or more", net.name, net.mtu);
	/* DHCPv6 (dnsmasq) serves /64 or longer: refused here, not by a
	 * dnsmasq that fails to start with a message of its own */
	for (__u32 i = 0; (net.flags & KVB_NET_F_DHCP) &&
			  i < net.nsubnets && i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *sn = &net.subnets[i];
		char a[INET6_ADDRSTRLEN];

		if (sn->family != 6 || sn->prefixlen >= 64)
			continue;
		inet_ntop(AF_INET6, sn->addr, a, sizeof(a));
		return err("net add: subnet %s/%u: dhcp on serves IPv6 "
			   "subnets of /64 or longer: give a /64, or dhcp off",
			   a, sn->prefixlen);
	}
	/* alloc_id found the slot free; the fabric's lock keeps it so.
	 * CREATING until the network is whole: a net add killed half-way
	 * leaves a network the next command's upkeep removes (net_unfinished) */
	net.flags |= KVB_NET_F_CREATING;
	if (bpf_map_update_elem(fb->net_fd, &net.id, &net, BPF_ANY))
		return err("net add: %s: cannot create: %s", s->name,
			   strerror(errno));
	if ((ops->create && ops->create(fb, s, &net)) ||
	    (net.vni && (net_get(fb, net.id, &net) ||
			 overlay_sync(fb, "net add", NULL, &net))) ||
	    net_whole(fb, net.id)) {
		if (!net_get(fb, net.id, &tmp))
			net_remove(fb, &tmp);
		return 1;
	}
	return 0;
}

/*
 * The upkeep's share: a network whose `net add` was killed before it was
 * whole (KVB_NET_F_CREATING) is removed with whatever of it was made
 * (its gateway interface, dnsmasq, WAN hook), said on stderr; its name
 * is free for net add again. The fabric's lock keeps a live net add out.
 */
static char unfinished[KVB_MAX_NETS][KVB_NAME_LEN];

void net_unfinished(struct fabric *fb)
{
	struct kvb_net n;

	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		if (net_get(fb, id, &n) || !(n.flags & KVB_NET_F_CREATING))
			continue;
		warn("gc: network %s: its net add did not finish: removed "
		     "with what it made (add it again)", n.name);
		memcpy(unfinished[id], n.name, sizeof(unfinished[id]));
		net_remove(fb, &n);
	}
}

/* Did this command's upkeep remove network name (net_unfinished)? */
static bool net_unfinished_was(const char *name)
{
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (!strncmp(unfinished[id], name, sizeof(unfinished[id])) &&
		    unfinished[id][0])
			return true;
	return false;
}

static bool pfx_match(const void *key, const void *value, void *arg)
{
	const struct kvb_pfx_key *k = key;

	(void)value;
	return k->net_id == htonl(*(const __u32 *)arg);
}

/* Forget the IPv6 prefixes a bridge network learned from its LAN's RAs. */
static void pfx_purge(struct fabric *fb, __u32 net_id)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fb->dir, KVB_MAP_PFX);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	map_delete_where(fd, sizeof(struct kvb_pfx_key),
			 sizeof(struct kvb_pfx), pfx_match, &net_id);
	close(fd);
}

/*
 * Detach every port, forget the MACs, what the type made, the network.
 * The ports' NAT flows go in one walk at the end (nat_flows_forget), none
 * for a nat network: its destroy flushes every flow it translated, the
 * routed networks' behind it included.
 */
int net_remove(struct fabric *fb, const struct kvb_net *net)
{
	const struct net_ops *ops = net_ops(net->type);
	bool due = fb->forget_due;
	struct kvb_net cur = *net;
	struct kvb_port up;
	/* an uplink that nat networks also went out through (one NIC) */
	__u32 nat_up = net->uplink && !port_get(fb, net->uplink, &up) &&
		       up.role == KVB_PORT_UPLINK &&
		       (up.flags & KVB_PORT_F_NAT_WAN) ? net->uplink : 0;
	int ret = 0;

	nat_forget_hold(fb);
	while (cur.nports > 0) {
		struct kvb_port p;
		__u32 ifx = cur.ports[cur.nports - 1];

		if (!port_get(fb, ifx, &p))
			ret |= port_detach(fb, "net del", &p);
		if (net_get(fb, net->id, &cur))
			break;
		/* a member with no port entry: drop it from the list */
		if (cur.nports && cur.ports[cur.nports - 1] == ifx) {
			cur.ports[--cur.nports] = 0;
			net_put(fb, &cur);
		}
	}
	/* and a guest or uplink port of it that the list no longer names
	 * (a detach, net del or reset stopped half-way) */
	ret |= ports_detach_where(fb, "net del", net->id);
	fdb_purge(fb, 0, net->id);
	pfx_purge(fb, net->id);
	if (net->vni)
		overlay_sync(fb, "net del", net, NULL);
	if (ops->destroy)
		ops->destroy(fb, net);
	if (net->type == KVB_NET_NAT)
		fb->forget_due = due;
	if (net_clear(fb, net->id))
		ret = err("net del: %s: %s", net->name, strerror(errno));
	nat_forget_release(fb);
	/* the nat networks that went out through its uplink keep the
	 * device, as their WAN port now (also when a net add that took it
	 * over is rolled back) */
	if (!ret && nat_up && !fb->resetting)
		wan_uplink_gone(fb, nat_up);
	return ret;
}

/* A guest port of network n, through its type's checks. */
int net_port_attach(struct fabric *fb, const char *cmd, const char *dev,
		    const struct kvb_net *n, const struct port_opts *o)
{
	const struct net_ops *ops = net_ops(n->type);

	if (ops->attach_port && ops->attach_port(n, cmd, o))
		return 1;
	if (port_attach(fb, cmd, dev, n->id, KVB_PORT_GUEST, o))
		return 1;
	net_ports_changed(fb, n->id);
	return 0;
}

int net_port_detach(struct fabric *fb, const char *cmd,
		    const struct kvb_port *p)
{
	int ret = port_detach(fb, cmd, p);

	net_ports_changed(fb, p->net_id);
	return ret;
}

/*
 * Detach every guest and uplink port whose entry names network net_id,
 * or with net_id 0 every port left (reset), whether a network lists it
 * or not: those a detach, net del or reset stopped half-way left behind.
 * What attach changed goes back only on the port's own device (the name
 * at its ifindex is its name); another device at that ifindex is not
 * touched. The keys are taken first, then detached. 0, or 1 if one
 * failed (said).
 */
int ports_detach_where(struct fabric *fb, const char *cmd, __u32 net_id)
{
	static __u32 keys[KVB_MAX_PORTS];
	__u32 key, *prev = NULL, n = 0;
	struct kvb_port p;
	int ret = 0;

	while (n < KVB_MAX_PORTS &&
	       !bpf_map_get_next_key(fb->port_fd, prev, &key)) {
		prev = &key;
		if (port_get(fb, key, &p))
			continue;
		if (net_id && (p.net_id != net_id ||
			       (p.role != KVB_PORT_GUEST &&
				p.role != KVB_PORT_UPLINK)))
			continue;
		keys[n++] = key;
	}
	for (__u32 i = 0; i < n; i++) {
		char now[IF_NAMESIZE];

		if (port_get(fb, keys[i], &p))
			continue;
		if (!if_indextoname(keys[i], now) || strcmp(now, p.name))
			p.flags &= ~(KVB_PORT_F_OWN_CLSACT |
				     KVB_PORT_F_PROMISC | KVB_PORT_F_IPV6_OFF);
		ret |= port_detach(fb, cmd, &p);
	}
	return ret;
}

/* a guest port of net_id joined, changed or left */
void net_ports_changed(struct fabric *fb, __u32 net_id)
{
	struct kvb_net n;

	if (!net_get(fb, net_id, &n) && net_ops(n.type)->detach_port)
		net_ops(n.type)->detach_port(fb, &n);
}

/* ---------------------------------------------------------- commands */

/* "  net add NAME type nat [subnet CIDR] ..." lines, from the table */
static void net_field_synopsis(struct wrap *w, const struct net_field *fd)
{
	wrap_printf(w, "[%s%s%s]%s", fd->kw.name, fd->kw.arg ? " " : "",
		    fd->kw.arg ? fd->kw.arg : "",
		    fd->kw.flags & KW_REPEAT ? "..." : "");
}

static void net_details(void)
{
	struct wrap w;

	for (__u32 t = 0; (t = net_type_next(t));) {
		w.col = printf("  net add NAME type %s", net_type_name(t));
		w.indent = 4;
		for (size_t k = 1; k < NFIELDS; k++)
			if ((fields[k].flags & F_ADD) &&
			    (!fields[k].kw.only || type_has(t, fields[k].kw.only)))
				net_field_synopsis(&w, &fields[k]);
		printf("\n");
	}
	w.col = printf("  net set NAME");
	w.indent = 4;
	for (size_t k = 0; k < NFIELDS; k++)
		if (fields[k].flags & F_SET)
			net_field_synopsis(&w, &fields[k]);
	printf("\n\n");
	for (size_t k = 0; k < NFIELDS; k++)
		keyword_help(&fields[k].kw, 1);
	printf("\n"
	       "  bridge    guests switch with each other; with an uplink,\n"
	       "            also with the LAN behind host NIC DEV and with\n"
	       "            the host itself\n"
	       "  internal  guests reach each other and nothing else\n"
	       "  nat       a private IPv4 subnet; dhcp on (default) runs\n"
	       "            dnsmasq on the gateway interface (leases, router,\n"
	       "            DNS; a port's mac + ip is its static lease);\n"
	       "            guests reach whatever the host routes to, through\n"
	       "            the device the host's FIB picks, with that\n"
	       "            device's address (source NAT in BPF, TCP/UDP/ICMP\n"
	       "            echo); 'wan DEV': through DEV only\n"
	       "            its IPv6 subnets are routed, not translated, as\n"
	       "            a routed network's\n"	       "  routed    IPv4 and IPv6 subnets (up to %d), routed without\n"
	       "            NAT where the host's FIB says; gateways answer\n"
	       "            ARP/ND and router advertisements (SLAAC on /64s)\n"
	       "            in BPF\n"
	       "  peer      route between two routed/nat networks (unpeered\n"
	       "            networks never reach each other); a routed network\n"
	       "            peered with a nat one reaches the outside through\n"
	       "            that network's translation (IPv4)\n"
	       "  NAME: 1-15 characters of [A-Za-z0-9_.-], not beginning\n"
	       "  with '-' (nor 'help').\n"
	       "Limits: %d networks, %d ports per network.\n",
	       KVB_MAX_SUBNETS, KVB_MAX_NETS - 1, KVB_MAX_NET_PORTS);
}

/* `net add`'s words, NAME KEYWORD ARG..., as a spec for net_create */
int net_add_spec(int argc, char **argv, struct net_spec *s)
{
	memset(s, 0, sizeof(*s));
	if (argc < 1)
		return err("net add: missing NAME");
	if (!name_valid(argv[0]))
		return err("net add: name '%s': use 1-%d characters of "
			   "[A-Za-z0-9_.-], not beginning with '-' (nor "
			   "'help')", argv[0], KVB_NAME_LEN - 1);
	snprintf(s->name, sizeof(s->name), "%s", argv[0]);
	return net_spec_parse("net add", argc - 1, argv + 1, F_ADD, s);
}

static int net_add(int argc, char **argv)
{
	struct net_spec s;
	struct fabric *fb;

	/* the words first: a mistyped command opens no fabric */
	if (net_add_spec(argc, argv, &s))
		return 1;
	fb = fab();
	return fb ? net_create(fb, &s) : 1;
}

/* The uplink port whose XDP net set turned on goes back to off. */
static void xdp_undo(struct fabric *fb, __u32 uplink)
{
	struct kvb_port p;

	if (uplink && !port_get(fb, uplink, &p))
		port_xdp_set(fb, "net set", &p, false);
}

/*
 * net set's uplink-xdp on and wan-xdp on: XDP attached on the uplink or
 * WAN port before the network changes ("net set: NAME: wan-xdp on:
 * device DEV: ..." when it cannot be), so that a failure leaves
 * everything as it was. *undo: the uplink whose XDP this turned on, for
 * xdp_undo should a later step fail.
 */
static int xdp_on_first(struct fabric *fb, const struct net_spec *s,
			const struct kvb_net *n, __u32 *undo)
{
	struct kvb_port p;
	char cmd[64];

	*undo = 0;
	if (field_given(s, "uplink-xdp") && s->uplink_xdp) {
		snprintf(cmd, sizeof(cmd), "net set: %s: uplink-xdp on",
			 n->name);
		if (port_get(fb, n->uplink, &p) || p.role != KVB_PORT_UPLINK)
			return err("net set: %s: uplink-xdp: the network has no "
				   "uplink", n->name);
		if (!(p.flags & KVB_PORT_F_XDP)) {
			if (port_xdp_set(fb, cmd, &p, true))
				return 1;
			*undo = p.ifindex;
		}
	}
	if (field_given(s, "wan-xdp") && s->wan_xdp && n->wan &&
	    !port_get(fb, n->wan, &p) && p.role == KVB_PORT_WAN) {
		snprintf(cmd, sizeof(cmd), "net set: %s: wan-xdp on", n->name);
		if (port_xdp_set(fb, cmd, &p, true)) {
			xdp_undo(fb, *undo);
			return 1;
		}
	}
	return 0;
}

/*
 * net set's ACL step: network old as it is but for net's ACL list and
 * defaults, and its ports' sets switched to them. 0, or 1 with the
 * network and its ports as they were (the error told).
 */
static int net_set_acl_first(struct fabric *fb, const struct kvb_net *old,
			     const struct kvb_net *net)
{
	struct kvb_net tmp = *old;

	memcpy(tmp.acl, net->acl, sizeof(tmp.acl));
	tmp.nacl = net->nacl;
	/* a default that changes compiles the lists of its ports again
	 * (their connections are judged again): room, as a list needs */
	memcpy(tmp.acl_default, net->acl_default, sizeof(tmp.acl_default));
	if (net_put(fb, &tmp))
		return err("net set: %s: %s", old->name, strerror(errno));
	if (!acl_sync(fb, "net set"))
		return 0;
	net_put(fb, old);
	acl_sync(fb, "net set");
	return 1;
}

/* A later step failed: old's ACL list back, if net_set_acl_first ran. */
static void net_set_acl_back(struct fabric *fb, bool done,
			     const struct kvb_net *old)
{
	if (!done)
		return;
	net_put(fb, old);
	acl_sync(fb, "net set");
}

/* Does n list a vtep that old did not (vtep, vtep-add)? */
static bool vteps_added(const struct kvb_net *old, const struct kvb_net *n)
{
	for (__u32 i = 0; i < n->nvteps && i < KVB_MAX_VTEPS; i++)
		if (vtep_index(old->vteps, old->nvteps, &n->vteps[i]) < 0)
			return true;
	return false;
}

/* net set NAME KEYWORD ARG...: the fields that change in place */
static int net_set(int argc, char **argv)
{
	struct net_spec s = { 0 };
	struct kvb_net net, old;
	struct fabric *fb;
	bool acl_first;
	__u32 undo;

	if (argc < 3)
		return err("net set: expected NAME and settings");
	fb = fab();
	if (!fb)
		return 1;
	if (net_find(fb, argv[0], &net))
		return err("net set: network %s does not exist", argv[0]);
	s.type = net.type;
	if (net_spec_parse("net set", argc - 1, argv + 1, F_SET, &s))
		return 1;
	if (field_given(&s, "uplink-xdp") && !net.uplink)
		return err("net set: %s: uplink-xdp: the network has no uplink",
			   net.name);
	if (field_given(&s, "wan-xdp") && s.wan_xdp && !net.wan)
		return err("net set: %s: wan-xdp on: the network names no wan "
			   "device", net.name);
	/* ACLs the datapath cannot take refuse the command before anything
	 * of it changed */
	if (field_given(&s, "acl") && s.nacl > 0 &&
	    acl_list_fits(fb, "net set", s.acl, s.nacl))
		return 1;
	old = net;
	net_spec_apply(&s, &net);
	acl_first = field_given(&s, "acl") ||
		    field_given(&s, "default-ingress") ||
		    field_given(&s, "default-egress");
	for (__u32 i = 0; i < s.ndel; i++) {
		char a[64];

		vtep_fmt(&s.del[i], a);
		if (vtep_index(s.add, s.nadd, &s.del[i]) >= 0)
			return err("net set: %s: vtep %s both joins and "
				   "leaves", net.name, a);
		if (vtep_index(old.vteps, old.nvteps, &s.del[i]) < 0)
			return err("net set: %s: vtep %s is not one of its "
				   "vteps", net.name, a);
	}
	/* every host that joins is in the list (apply_vtep_add stops at
	 * the limit) */
	for (__u32 i = 0; i < s.nadd; i++)
		if (vtep_index(net.vteps, net.nvteps, &s.add[i]) < 0)
			return err("net set: %s: at most %d vteps", net.name,
				   KVB_MAX_VTEPS);
	/* vteps without a VNI are refused there too, as by net add (a
	 * network saved with them would not load again); a network an
	 * older build left so keeps them through a command that does not
	 * touch them (vtep-del takes them away) */
	if ((net.vni || old.vni || vteps_added(&old, &net)) &&
	    overlay_check(fb, "net set", &old, &net,
			  net_has(&net, NT_GATEWAY)))
		return 1;
	/*
	 * XDP that cannot be attached (a driver without native XDP) fails
	 * the command before anything else changed, so that the network is
	 * left exactly as it was; removing it cannot fail that way and
	 * comes after.
	 */
	/*
	 * The network's ACLs next, the step whose tables may be full: its
	 * ports switch to the new list first (the network as it was, but
	 * for the list), or the command fails with nothing else changed;
	 * a later step's failure puts the old list back.
	 */
	if (acl_first && net_set_acl_first(fb, &old, &net))
		return 1;
	if (xdp_on_first(fb, &s, &net, &undo)) {
		net_set_acl_back(fb, acl_first, &old);
		return 1;
	}
	if (net_put(fb, &net)) {
		int e = errno;

		xdp_undo(fb, undo);
		wan_xdp_sync(fb, "net set", old.wan, 0);	/* as it was */
		net_set_acl_back(fb, acl_first, &old);
		return err("net set: %s: %s", net.name, strerror(e));
	}
	if ((net.vni || old.vni) && overlay_sync(fb, "net set", &old, &net)) {
		/* the VNI or VTEPs could not be put in place (UDP 4789
		 * taken): the network keeps what it had, not words that
		 * are not in force and that save would write */
		net_put(fb, &old);
		overlay_sync(fb, "net set", &net, &old);
		xdp_undo(fb, undo);
		wan_xdp_sync(fb, "net set", old.wan, 0);
		net_set_acl_back(fb, acl_first, &old);
		return 1;
	}
	if (field_given(&s, "uplink-xdp") && !s.uplink_xdp &&
	    uplink_xdp_set(fb, &net, false))
		return 1;
	/* off: unless another network naming the device asks for it */
	if (field_given(&s, "wan-xdp"))
		wan_xdp_sync(fb, "net set", net.wan, 0);
	if (!acl_sync(fb, "net set"))
		return 0;
	/*
	 * Its ports' sets cannot take the network's ACLs (over
	 * KVB_ACL_SET_RULES in a direction): nothing switched, and the
	 * network names again what still judges them, or every later
	 * acl_sync (each attach's) would fail on it
	 */
	if (net_get(fb, net.id, &net))
		return 1;
	memcpy(net.acl, old.acl, sizeof(net.acl));
	net.nacl = old.nacl;
	memcpy(net.acl_default, old.acl_default, sizeof(net.acl_default));
	net_put(fb, &net);
	acl_sync(fb, "net set");
	return 1;
}

static int net_del(int argc, char **argv)
{
	struct fabric *fb;
	struct kvb_net net;

	if (argc != 1)
		return err("net del: expected exactly one NAME");
	fb = fab();
	if (!fb)
		return 1;
	/* a half-made network of that name the upkeep just removed (said
	 * on stderr) is what was asked */
	if (net_find(fb, argv[0], &net))
		return net_unfinished_was(argv[0]) ? 0 :
		       err("net del: network %s does not exist", argv[0]);
	if (net_remove(fb, &net))
		return 1;
	return acl_tidy(fb, "net del");
}

static void show_net(struct fabric *fb, const struct kvb_net *n)
{
	const struct net_ops *ops = net_ops(n->type);
	struct fmt f = { .save = false };
	struct kvb_port p;
	char ifn[16];

	open_json_object(NULL);
	print_string(PRINT_ANY, "name", "%s", n->name);
	print_uint(PRINT_ANY, "id", " id %llu", n->id);
	net_format(fb, n, &f);
	/* killed half-way: the next changing command or gc removes it */
	print_bool(PRINT_JSON, "creating", NULL, n->flags & KVB_NET_F_CREATING);
	if (n->flags & KVB_NET_F_CREATING)
		print_text(" (net add stopped half-way: the next changing "
			   "command or gc removes it)");
	print_nl();
	if (n->vni) {
		char dev[16];

		print_string(PRINT_ANY, "overlay_device", "  overlay-device %s",
			     ifname_of(n->ovl_ifindex, NULL, dev));
		print_uint(PRINT_ANY, "overlay_mtu", " underlay-carries %llu",
			   n->ovl_mtu);
		print_nl();
	} else {
		print_null("overlay_device");
		print_null("overlay_mtu");
	}
	if (ops->show)
		ops->show(fb, n);
	print_text("  ports");
	open_json_array("ports");
	for (__u16 i = 0; i < n->nports && i < KVB_MAX_NET_PORTS; i++)
		print_string(PRINT_ANY, NULL, " %s",
			     ifname_of(n->ports[i],
				       port_get(fb, n->ports[i], &p) ? NULL : &p,
				       ifn));
	close_json_array();
	print_nl();
	close_json_object();
}

static int net_show(int argc, char **argv)
{
	struct kvb_net net;
	struct fabric *fb;

	if (argc > 1)
		return err("net show: unexpected argument '%s'", argv[1]);
	fb = fab_ro();
	if (!fb)
		return 1;
	if (argc == 1) {
		if (net_find(fb, argv[0], &net))
			return err("net show: network %s does not exist",
				   argv[0]);
		show_net(fb, &net);
		return 0;
	}
	/* in id order, so output is stable */
	open_json_array(NULL);
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (!net_get(fb, id, &net))
			show_net(fb, &net);
	close_json_array();
	return 0;
}

const struct object obj_net = {
	.name = "net",
	.cmds = (const struct cmd[]){
		{ "add", net_add, "NAME type bridge|internal|nat|routed "
		  "[KEYWORD ARG]...", CMD_TEND | CMD_CREATES },
		{ "del", net_del, "NAME", CMD_TEND },
		{ "set", net_set, "NAME [ct-max N] [ct-port-max N] "
		  "[ct-timeout KIND SECONDS]... "
		  "[nat-filtering MODE] [vni N] [vtep ADDR]... "
		  "[vtep-add ADDR]... [vtep-del ADDR]... "
		  "[acl NAME[,NAME...]|none] [default-ingress ACTION] "
		  "[default-egress ACTION] [acl-ct-max N] "
		  "[uplink-xdp on|off] [wan-xdp on|off]", CMD_TEND },
		{ "peer", net_peer, "NAME1 NAME2", CMD_TEND },
		{ "unpeer", net_unpeer, "NAME1 NAME2", CMD_TEND },
		{ "show", net_show, "[NAME]", 0 },
		{ "list", net_show, NULL, 0 },
		{ "leases", net_leases, "NAME", 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = net_details,
};
