// SPDX-License-Identifier: MIT
/*
 * The host's own links, addresses and routes, read through rtnetlink
 * (libmnl): what `net add` must not overlap and what `attach` must not
 * take. Errors are the kernel's own (-errno from its NLMSG_ERROR).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "kvmbpf.h"

/* a dump's messages are at most 32 KiB (the kernel's largest skb for it) */
#define NL_BUF 32768
/* a request, and the kernel's answer to it */
#define NL_REQ 8192
/* attribute tables: larger than IFLA_MAX, RTA_MAX, IFA_MAX, IFLA_INFO_MAX */
#define NL_ATTRS 128
_Static_assert(IFLA_MAX < NL_ATTRS && RTA_MAX < NL_ATTRS &&
	       IFA_MAX < NL_ATTRS && IFLA_INFO_MAX < NL_ATTRS &&
	       NHA_MAX < NL_ATTRS,
	       "an attribute table is too small");

/*
 * Ask for a dump of TYPE (RTM_GETLINK/GETADDR/GETROUTE) in FAMILY and run
 * CB on every message. HDRLEN is the request's family header (ifinfomsg,
 * ifaddrmsg, rtmsg): all three start with the family byte.
 */
/*
 * Send one request on a fresh rtnetlink socket and run cb over the
 * kernel's answer: every part of a dump (NLM_F_DUMP) until its end, else
 * the one answer. 0, or the -errno of the kernel's NLMSG_ERROR, so that
 * the kernel's own reason reaches the user.
 */
static int nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	static char buf[NL_BUF];
	bool dump = nlh->nlmsg_flags & NLM_F_DUMP;
	unsigned int seq, portid;
	struct mnl_socket *nl;
	int ret;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	nlh->nlmsg_seq = seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	do {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0) {
			ret = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (ret < 0) {
			ret = errno ? -errno : -EIO;
			goto out;
		}
	} while (dump && ret != MNL_CB_STOP);
	ret = 0;
out:
	mnl_socket_close(nl);
	return ret;
}

/* Dump one kind of object (RTM_GET*) of one family through cb. */
static int nl_dump(__u16 type, __u8 family, size_t hdrlen, mnl_cb_t cb,
		   void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	__u8 *hdr;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_DUMP;
	hdr = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	hdr[0] = family;
	return nl_talk(nlh, cb, data);
}

/* Attribute table filler for mnl_attr_parse(): tb[type] = attr. */
static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type < NL_ATTRS)
		tb[type] = attr;
	return MNL_CB_OK;
}

/* ------------------------------------------------------------ tc filters */

/*
 * Dump tc objects of one type (RTM_GETQDISC, RTM_GETTFILTER) of device
 * ifindex, under parent (0: any), through cb.
 */
static int tc_dump(__u16 type, __u32 ifindex, __u32 parent, mnl_cb_t cb,
		   void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *t;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_DUMP;
	t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = (int)ifindex;
	t->tcm_parent = parent;
	return nl_talk(nlh, cb, data);
}

static int filter_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	++*(int *)data;
	return MNL_CB_OK;
}

/*
 * How many tc filters device ifindex holds on its clsact ingress and
 * egress hooks (anyone's: the caller removes its own first), or -errno.
 */
int host_tc_filters(__u32 ifindex)
{
	static const __u32 parents[] = { 0xfffffff2, 0xfffffff3 };
	int n = 0, ret;

	/* TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / TC_H_MIN_EGRESS) */
	for (int i = 0; i < 2; i++) {
		ret = tc_dump(RTM_GETTFILTER, ifindex, parents[i], filter_cb,
			      &n);
		if (ret)
			return ret;
	}
	return n;
}

struct prio_walk {
	__u16 prio;
	char *kind;
};

static int prio_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	const struct tcmsg *t = mnl_nlmsg_get_payload(nlh);
	struct prio_walk *w = data;
	const char *k;

	if ((t->tcm_info >> 16) != w->prio || w->kind[0])
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*t), attr_cb, tb);
	k = tb[TCA_KIND] ? mnl_attr_get_str(tb[TCA_KIND]) : "?";
	if (strcmp(k, "bpf"))
		snprintf(w->kind, 16, "%s", k);
	return MNL_CB_OK;
}

/*
 * The kind of a filter other than a bpf one at preference prio on device
 * ifindex's clsact ingress (or egress) hook, in kind ("" when there is
 * none): tc puts one kind of classifier at one preference. 0 or -errno.
 */
int host_tc_prio_kind(__u32 ifindex, bool egress, __u16 prio, char kind[16])
{
	struct prio_walk w = { .prio = prio, .kind = kind };

	kind[0] = 0;
	return tc_dump(RTM_GETTFILTER, ifindex,
		       egress ? 0xfffffff3 : 0xfffffff2, prio_cb, &w);
}

struct qdisc_walk {
	__u32 ifindex;
	char *kind;
};

static int qdisc_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	const struct tcmsg *t = mnl_nlmsg_get_payload(nlh);
	struct qdisc_walk *w = data;

	if ((__u32)t->tcm_ifindex != w->ifindex || t->tcm_parent != TC_H_INGRESS)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*t), attr_cb, tb);
	if (tb[TCA_KIND])
		snprintf(w->kind, 16, "%s", mnl_attr_get_str(tb[TCA_KIND]));
	return MNL_CB_OK;
}

/*
 * The kind of the qdisc on device ifindex's ingress side (parent
 * ffff:fff1): "clsact", "ingress" (which has one block, so a filter meant
 * for egress lands among the ingress filters), or "" when there is none.
 * 0 or -errno.
 */
int host_ingress_qdisc(__u32 ifindex, char kind[16])
{
	struct qdisc_walk w = { .ifindex = ifindex, .kind = kind };

	kind[0] = 0;
	return tc_dump(RTM_GETQDISC, ifindex, 0, qdisc_cb, &w);
}

/* ------------------------------------------------------------------ links */

struct link_walk {
	__u32 want;
	struct host_link *l;
	bool found;
};

/*
 * A device whose IFLA_LINK is ours: note it if it receives through our
 * rx path (a VLAN, macvlan, ipvlan, macvtap or ipvtap on top of us, whose
 * frames our tc ingress sees first). A veth's IFLA_LINK is its peer's.
 */
static void link_child(const struct nlattr **tb, struct host_link *l)
{
	static const char *const kinds[] = { "vlan", "macvlan", "ipvlan",
					     "macvtap", "ipvtap", NULL };
	const struct nlattr *info[NL_ATTRS] = {};

	if (!tb[IFLA_LINKINFO] || !tb[IFLA_IFNAME])
		return;
	mnl_attr_parse_nested(tb[IFLA_LINKINFO], attr_cb, info);
	if (!info[IFLA_INFO_KIND])
		return;
	for (int i = 0; kinds[i]; i++)
		if (!strcmp(mnl_attr_get_str(info[IFLA_INFO_KIND]), kinds[i])) {
			snprintf(l->child, sizeof(l->child), "%s",
				 mnl_attr_get_str(tb[IFLA_IFNAME]));
			snprintf(l->child_kind, sizeof(l->child_kind), "%s",
				 kinds[i]);
			return;
		}
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct link_walk *w = data;
	struct host_link *l = w->l;

	mnl_attr_parse(nlh, sizeof(*ifm), attr_cb, tb);
	if (tb[IFLA_MASTER] && mnl_attr_get_u32(tb[IFLA_MASTER]) == w->want)
		l->has_slaves = true;
	if (tb[IFLA_LINK] && !tb[IFLA_LINK_NETNSID] &&
	    mnl_attr_get_u32(tb[IFLA_LINK]) == w->want && !l->child[0])
		link_child(tb, l);
	if ((__u32)ifm->ifi_index != w->want)
		return MNL_CB_OK;
	w->found = true;
	l->ifindex = (__u32)ifm->ifi_index;
	l->type = ifm->ifi_type;
	l->flags = ifm->ifi_flags;
	if (tb[IFLA_IFNAME])
		snprintf(l->name, sizeof(l->name), "%s",
			 mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_MASTER])
		l->master = mnl_attr_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINKINFO]) {
		const struct nlattr *info[NL_ATTRS] = {};

		mnl_attr_parse_nested(tb[IFLA_LINKINFO], attr_cb, info);
		if (info[IFLA_INFO_KIND])
			snprintf(l->kind, sizeof(l->kind), "%s",
				 mnl_attr_get_str(info[IFLA_INFO_KIND]));
	}
	return MNL_CB_OK;
}

/*
 * What the kernel says of device IFINDEX: type, flags, kind, master,
 * whether other devices are enslaved to it, and a VLAN or macvlan-like
 * device on top of it. -ENODEV if there is none.
 */
int host_link(__u32 ifindex, struct host_link *l)
{
	struct link_walk w = { .want = ifindex, .l = l };
	int ret;

	memset(l, 0, sizeof(*l));
	ret = nl_dump(RTM_GETLINK, AF_UNSPEC, sizeof(struct ifinfomsg),
		      link_cb, &w);
	if (ret)
		return ret;
	return w.found ? 0 : -ENODEV;
}

/*
 * Does a device of this link type carry IP packets with no link-layer
 * header (tun, WireGuard: ARPHRD_NONE; PPP; a modem's raw IP)? Such a
 * device can be a WAN (KVB_PORT_F_L3): its packets start with their IP
 * header at tc, and the kernel takes a redirected frame's Ethernet header
 * off for it. IP-in-IP and GRE devices are not on the list: whether tc
 * sees their packets without a header was not checked (this kernel has
 * no such modules).
 */
bool link_type_l3(__u16 type)
{
	return type == ARPHRD_NONE || type == ARPHRD_PPP ||
	       type == ARPHRD_RAWIP;
}

/* -------------------------------------------------- addresses and routes */

/* Do prefixes a/la and b/lb share an address? (their first min bits agree) */
static bool prefixes_overlap(const __u8 *a, __u32 la, const __u8 *b, __u32 lb)
{
	__u32 n = la < lb ? la : lb;

	for (__u32 bit = 0; bit < n; bit++)
		if ((a[bit / 8] ^ b[bit / 8]) & (0x80 >> (bit % 8)))
			return false;
	return true;
}

struct overlap_walk {
	const struct kvb_subnet *sn;
	__u32 skip;		/* an interface that does not count, or 0 */
	__u32 only;		/* addresses: only this interface, or 0 */
	bool global_only;	/* addresses: IPv6 of universe scope only */
	bool found;
	char what[64];		/* the prefix found, "a/len" */
	__u32 ifindex;		/* and its interface */
};

static void walk_hit(struct overlap_walk *w, int family, const void *a,
		     __u32 len, __u32 ifindex)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(family, a, s, sizeof(s));
	snprintf(w->what, sizeof(w->what), "%s/%u", s, len);
	w->ifindex = ifindex;
	w->found = true;
}

/* A route's output device: RTA_OIF, else its first multipath hop's. */
static __u32 route_oif(const struct nlattr **tb)
{
	const struct rtnexthop *nh;

	if (tb[RTA_OIF])
		return mnl_attr_get_u32(tb[RTA_OIF]);
	if (!tb[RTA_MULTIPATH] ||
	    mnl_attr_get_payload_len(tb[RTA_MULTIPATH]) < sizeof(*nh))
		return 0;
	nh = mnl_attr_get_payload(tb[RTA_MULTIPATH]);
	return (__u32)nh->rtnh_ifindex;
}

/* A next hop's gateway gw (len bytes) through oif inside w's subnet: a
 * hit (the host's next hop would be behind the network's interface). */
static bool gw_hit(struct overlap_walk *w, int family, const void *gw,
		   size_t len, __u32 oif)
{
	__u32 bits = family == AF_INET ? 32 : 128;

	if (len != bits / 8 || (w->skip && oif == w->skip) ||
	    !prefixes_overlap(gw, bits, w->sn->addr, w->sn->prefixlen))
		return false;
	walk_hit(w, family, gw, bits, oif);
	return true;
}

/* A multipath route's next hops (RTA_MULTIPATH: a struct rtnexthop
 * each, its own attributes after it): a gateway of one in the subnet. */
static bool multipath_hit(struct overlap_walk *w, int family,
			  const struct nlattr *mp)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(mp);
	int left = (int)mnl_attr_get_payload_len(mp);

	while (left >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) &&
	       nh->rtnh_len <= left) {
		const struct rtattr *a = RTNH_DATA(nh);
		int alen = nh->rtnh_len - (int)sizeof(*nh);

		for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
			if (a->rta_type == RTA_GATEWAY &&
			    gw_hit(w, family, RTA_DATA(a), RTA_PAYLOAD(a),
				   (__u32)nh->rtnh_ifindex))
				return true;
		left -= RTNH_ALIGN(nh->rtnh_len);
		nh = RTNH_NEXT(nh);
	}
	return false;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct overlap_walk *w = data;
	__u8 dst[16] = {};
	__u32 oif = 0, bits = rtm->rtm_family == AF_INET ? 32 : 128;

	if (w->found || (rtm->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, tb);
	/* a route's gateway inside the subnet (the default route's too,
	 * `onlink` with no route to it), an ECMP route's every next hop's
	 * too: the host's next hop would be behind the network's
	 * interface (nexthop objects: nexthop_cb) */
	if (tb[RTA_MULTIPATH] &&
	    multipath_hit(w, rtm->rtm_family, tb[RTA_MULTIPATH]))
		return MNL_CB_OK;
	oif = route_oif(tb);
	if (w->skip && oif == w->skip)
		return MNL_CB_OK;
	if (tb[RTA_GATEWAY] &&
	    gw_hit(w, rtm->rtm_family, mnl_attr_get_payload(tb[RTA_GATEWAY]),
		   mnl_attr_get_payload_len(tb[RTA_GATEWAY]), oif))
		return MNL_CB_OK;
	if (rtm->rtm_dst_len == 0)
		return MNL_CB_OK;
	/* unicast routes (connected or via a gateway), the host's own
	 * addresses, and what an admin refuses (blackhole, unreachable,
	 * prohibit: an aggregate, an IPAM block), which the network's
	 * more specific route would override; broadcast, multicast,
	 * anycast follow from those */
	if (rtm->rtm_type != RTN_UNICAST && rtm->rtm_type != RTN_LOCAL &&
	    rtm->rtm_type != RTN_BLACKHOLE &&
	    rtm->rtm_type != RTN_UNREACHABLE && rtm->rtm_type != RTN_PROHIBIT)
		return MNL_CB_OK;
	if (!tb[RTA_DST] || mnl_attr_get_payload_len(tb[RTA_DST]) != bits / 8)
		return MNL_CB_OK;
	memcpy(dst, mnl_attr_get_payload(tb[RTA_DST]), bits / 8);
	if (prefixes_overlap(dst, rtm->rtm_dst_len, w->sn->addr,
			     w->sn->prefixlen))
		walk_hit(w, rtm->rtm_family, dst, rtm->rtm_dst_len, oif);
	return MNL_CB_OK;
}

/* A nexthop object (ip nexthop, a route's `nhid`): its gateway. */
static int nexthop_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	const struct nhmsg *nhm = mnl_nlmsg_get_payload(nlh);
	struct overlap_walk *w = data;

	if (w->found)
		return MNL_CB_OK;
	/* a kernel may give the other family's too (an IPv6 next hop of
	 * an IPv4 route is not this question's) */
	if ((nhm->nh_family == AF_INET) != (w->sn->family == 4))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*nhm), attr_cb, tb);
	if (tb[NHA_GATEWAY])
		gw_hit(w, nhm->nh_family, mnl_attr_get_payload(tb[NHA_GATEWAY]),
		       mnl_attr_get_payload_len(tb[NHA_GATEWAY]),
		       tb[NHA_OIF] ? mnl_attr_get_u32(tb[NHA_OIF]) : 0);
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct overlap_walk *w = data;
	const struct nlattr *a;
	__u32 bits = ifa->ifa_family == AF_INET ? 32 : 128;

	if (w->found || (w->skip && ifa->ifa_index == w->skip) ||
	    (w->only && ifa->ifa_index != w->only))
		return MNL_CB_OK;
	if (w->global_only && ifa->ifa_family == AF_INET6 &&
	    ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, tb);
	/* IFA_LOCAL is the address itself where there is a peer (IPv4 has
	 * it always); IFA_ADDRESS otherwise */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || mnl_attr_get_payload_len(a) != bits / 8)
		return MNL_CB_OK;
	if (!w->sn || prefixes_overlap(mnl_attr_get_payload(a), ifa->ifa_prefixlen,
				       w->sn->addr, w->sn->prefixlen))
		walk_hit(w, ifa->ifa_family, mnl_attr_get_payload(a),
			 ifa->ifa_prefixlen, ifa->ifa_index);
	return MNL_CB_OK;
}

/*
 * Does subnet SN overlap a route (any table; unicast, local, blackhole,
 * unreachable or prohibit; not the default), hold a route's gateway (the
 * default's too), or overlap an address of the host, on any interface but
 * SKIP? Returns 1
 * and what it overlaps ("a/len") and the interface's name, 0 if nothing
 * does, -errno if the kernel cannot tell.
 */
int host_overlap(const struct kvb_subnet *sn, __u32 skip, char what[64],
		 char dev[16])
{
	struct overlap_walk w = { .sn = sn, .skip = skip };
	int family = sn->family == 4 ? AF_INET : AF_INET6, ret;

	ret = nl_dump(RTM_GETROUTE, (__u8)family, sizeof(struct rtmsg),
		      route_cb, &w);
	/* nexthop objects (a kernel without them says so: nothing to see) */
	if (!ret && !w.found) {
		ret = nl_dump(RTM_GETNEXTHOP, (__u8)family,
			      sizeof(struct nhmsg), nexthop_cb, &w);
		if (ret == -EOPNOTSUPP || ret == -EINVAL)
			ret = 0;
	}
	/* an address whose routes are gone (its device is down) counts too */
	if (!ret && !w.found)
		ret = nl_dump(RTM_GETADDR, (__u8)family,
			      sizeof(struct ifaddrmsg), addr_cb, &w);
	if (ret)
		return ret;
	if (!w.found)
		return 0;
	snprintf(what, 64, "%s", w.what);
	if (!w.ifindex || !if_indextoname(w.ifindex, dev))
		snprintf(dev, 16, w.ifindex ? "if%u" : "no device", w.ifindex);
	return 1;
}

/*
 * An address of the host on IFINDEX: any IPv4 one, or an IPv6 one of
 * global scope (every device has its link-local). Returns 1 and the
 * address ("a/len"), 0 if it has none, -errno.
 */
int host_addr_on(__u32 ifindex, char what[64])
{
	struct overlap_walk w = { .only = ifindex, .global_only = true };
	int ret = nl_dump(RTM_GETADDR, AF_UNSPEC, sizeof(struct ifaddrmsg),
			  addr_cb, &w);

	if (ret)
		return ret;
	if (w.found)
		snprintf(what, 64, "%s", w.what);
	return w.found;
}

/* ------------------------------------------------------- changing things */

/* A change (RTM_NEW*, RTM_DEL*): 0 once the kernel acknowledges it. */
static int nl_request(struct nlmsghdr *nlh)
{
	nlh->nlmsg_flags |= NLM_F_ACK;
	return nl_talk(nlh, NULL, NULL);
}

static struct nlmsghdr *link_msg(char *buf, __u16 type, __u16 flags,
				 __u32 ifindex, struct ifinfomsg **ifm)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	*ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(**ifm));
	(*ifm)->ifi_family = AF_UNSPEC;
	(*ifm)->ifi_index = (int)ifindex;
	return nlh;
}

/* ip link add HOST mtu MTU address MAC type veth peer name PEER mtu MTU */
int host_veth_add(const char *host, const char *peer, __u32 mtu,
		  const __u8 mac[6])
{
	char buf[NL_REQ];
	struct ifinfomsg *ifm, *pm;
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK,
					NLM_F_CREATE | NLM_F_EXCL, 0, &ifm);
	struct nlattr *info, *data, *pa;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	pa = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* the peer's attributes follow its own ifinfomsg */
	pm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pm));
	pm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_nest_end(nlh, pa);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_request(nlh);
}

/* ip link set dev up */
int host_link_up(__u32 ifindex)
{
	char buf[NL_REQ];
	struct ifinfomsg *ifm;
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex, &ifm);

	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	return nl_request(nlh);
}

/* ip link set dev addrgenmode eui64 */
int host_addrgen_eui64(__u32 ifindex)
{
	char buf[NL_REQ];
	struct ifinfomsg *ifm;
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex, &ifm);
	struct nlattr *spec, *af;

	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	af = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE,
			IN6_ADDR_GEN_MODE_EUI64);
	mnl_attr_nest_end(nlh, af);
	mnl_attr_nest_end(nlh, spec);
	return nl_request(nlh);
}

/* ip link del dev */
int host_link_del(__u32 ifindex)
{
	char buf[NL_REQ];
	struct ifinfomsg *ifm;

	return nl_request(link_msg(buf, RTM_DELLINK, 0, ifindex, &ifm));
}

/* ip addr add ADDR/LEN dev DEV [nodad] (family 4 or 6) */
int host_addr_add(__u32 ifindex, int family, const __u8 *addr, __u8 prefixlen,
		  bool nodad)
{
	char buf[NL_REQ];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t len = family == 4 ? 4 : 16;

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family == 4 ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_flags = nodad ? IFA_F_NODAD : 0;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, len, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	return nl_request(nlh);
}

struct default_walk {
	__u32 oif, metric;
	bool found;
};

/* Is a route (its header, its parsed attributes) of the main table? */
static bool route_in_main(const struct rtmsg *rtm, const struct nlattr **tb)
{
	__u32 table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) :
				      rtm->rtm_table;

	return table == RT_TABLE_MAIN;
}

static int default_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct default_walk *w = data;
	__u32 oif = 0, metric = 0;

	if (rtm->rtm_dst_len || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, tb);
	if (!route_in_main(rtm, tb))
		return MNL_CB_OK;
	if (tb[RTA_PRIORITY])
		metric = mnl_attr_get_u32(tb[RTA_PRIORITY]);
	oif = route_oif(tb);
	/* the one the kernel uses: the lowest metric */
	if (oif && (!w->found || metric < w->metric)) {
		w->oif = oif;
		w->metric = metric;
		w->found = true;
	}
	return MNL_CB_OK;
}

/*
 * The device of the main table's IPv4 default route of lowest metric (the
 * one the kernel takes), from rtnetlink. -ENOENT if there is none.
 */
int host_default_dev(char dev[16])
{
	struct default_walk w = { 0 };
	int ret = nl_dump(RTM_GETROUTE, AF_INET, sizeof(struct rtmsg),
			  default_cb, &w);

	if (ret)
		return ret;
	if (!w.found || !if_indextoname(w.oif, dev))
		return -ENOENT;
	return 0;
}

/* the kernel's NUD_VALID (net/neighbour.h): an entry with a usable MAC */
#define KVB_NUD_VALID (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | \
		       NUD_PROBE | NUD_STALE | NUD_DELAY)

/* what host_next_hops collects */
struct hop_walk {
	__u32 oif;
	int family;
	struct host_hop *out;
	size_t max, n;
};

/* next hop gw (w->family's length) into w->out, once */
static void hop_add(struct hop_walk *w, const void *gw)
{
	size_t len = w->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < w->n; i++)
		if (!memcmp(w->out[i].addr, gw, len))
			return;
	if (w->n >= w->max)
		return;
	memset(&w->out[w->n], 0, sizeof(w->out[w->n]));
	memcpy(w->out[w->n].addr, gw, len);
	w->n++;
}

/*
 * A unicast route of the main table through w->oif: its gateway; a
 * multipath route's every next hop through w->oif (RTA_MULTIPATH: a
 * struct rtnexthop each, its own attributes after it).
 */
static int hop_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct hop_walk *w = data;
	size_t len = w->family == AF_INET ? 4 : 16;

	if (rtm->rtm_family != w->family || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, tb);
	if (!route_in_main(rtm, tb))
		return MNL_CB_OK;
	if (tb[RTA_MULTIPATH]) {
		const struct rtnexthop *nh =
			mnl_attr_get_payload(tb[RTA_MULTIPATH]);
		int left = (int)mnl_attr_get_payload_len(tb[RTA_MULTIPATH]);

		while (left >= (int)sizeof(*nh) &&
		       nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
			const struct rtattr *a = RTNH_DATA(nh);
			int alen = nh->rtnh_len - (int)sizeof(*nh);

			for (; (__u32)nh->rtnh_ifindex == w->oif &&
			       RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == RTA_GATEWAY &&
				    RTA_PAYLOAD(a) == len)
					hop_add(w, RTA_DATA(a));
			left -= RTNH_ALIGN(nh->rtnh_len);
			nh = RTNH_NEXT(nh);
		}
		return MNL_CB_OK;
	}
	if (route_oif(tb) != w->oif || !tb[RTA_GATEWAY] ||
	    mnl_attr_get_payload_len(tb[RTA_GATEWAY]) != len)
		return MNL_CB_OK;
	hop_add(w, mnl_attr_get_payload(tb[RTA_GATEWAY]));
	return MNL_CB_OK;
}

/* a neighbour entry on w->oif: the MAC of a next hop w->out holds, when
 * the kernel has it resolved (NUD_VALID: reachable, stale, delay, probe,
 * permanent, noarp), as /proc/net/arp's "complete" */
static int hop_neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct hop_walk *w = data;
	size_t len = w->family == AF_INET ? 4 : 16;
	const __u8 *a;

	if (ndm->ndm_family != w->family || (__u32)ndm->ndm_ifindex != w->oif ||
	    !(ndm->ndm_state & KVB_NUD_VALID))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ndm), attr_cb, tb);
	if (!tb[NDA_DST] || mnl_attr_get_payload_len(tb[NDA_DST]) != len ||
	    !tb[NDA_LLADDR] || mnl_attr_get_payload_len(tb[NDA_LLADDR]) != 6)
		return MNL_CB_OK;
	a = mnl_attr_get_payload(tb[NDA_DST]);
	for (size_t i = 0; i < w->n; i++)
		if (!memcmp(w->out[i].addr, a, len)) {
			memcpy(w->out[i].mac, mnl_attr_get_payload(tb[NDA_LLADDR]),
			       6);
			w->out[i].resolved = true;
		}
	return MNL_CB_OK;
}

/*
 * The next hops of the main table's routes through device OIF in FAMILY
 * (AF_INET, AF_INET6; a multipath route's next hops through OIF), each
 * once, with the MAC the host's neighbour table has resolved for it
 * (resolved false when it has none). Up to MAX into OUT; how many, or
 * -errno.
 */
int host_next_hops(__u32 oif, int family, struct host_hop *out, size_t max)
{
	struct hop_walk w = { .oif = oif, .family = family, .out = out,
			      .max = max };
	int ret = nl_dump(RTM_GETROUTE, (__u8)family, sizeof(struct rtmsg),
			  hop_cb, &w);

	if (!ret && w.n)
		ret = nl_dump(RTM_GETNEIGH, (__u8)family, sizeof(struct ndmsg),
			      hop_neigh_cb, &w);
	return ret ? ret : (int)w.n;
}

/*
 * ip link add NAME type vxlan external dstport 4789 nolearning: the
 * kernel's VXLAN device in collect_md mode, one for every overlay network
 * of the fabric. BPF sets and reads the tunnel key; the device only
 * encapsulates, and keeps no FDB of its own.
 */
int host_vxlan_add(const char *name)
{
	char buf[NL_REQ];
	struct ifinfomsg *ifm;
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK,
					NLM_F_CREATE | NLM_F_EXCL, 0, &ifm);
	struct nlattr *info, *data;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_COLLECT_METADATA, 1);
	mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(KVB_VXLAN_PORT));
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_request(nlh);
}

struct route_get {
	__u32 oif, mtu;
};

static int route_get_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_ATTRS] = {};
	struct route_get *r = data;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct rtmsg), attr_cb, tb);
	if (tb[RTA_OIF])
		r->oif = mnl_attr_get_u32(tb[RTA_OIF]);
	if (tb[RTA_METRICS]) {
		const struct nlattr *m[NL_ATTRS] = {};

		mnl_attr_parse_nested(tb[RTA_METRICS], attr_cb, m);
		if (RTAX_MTU < NL_ATTRS && m[RTAX_MTU])
			r->mtu = mnl_attr_get_u32(m[RTAX_MTU]);
	}
	return MNL_CB_STOP;
}

/*
 * ip route get ADDR: the device the host sends to addr through (dev)
 * and the MTU of that path (the route's own, else the device's).
 */
int host_route_mtu(int family, const __u8 *addr, __u32 *mtu, char dev[16])
{
	static char buf[NL_REQ];
	struct route_get r = { 0 };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family == 6 ? AF_INET6 : AF_INET;
	rtm->rtm_dst_len = family == 6 ? 128 : 32;
	mnl_attr_put(nlh, RTA_DST, family == 6 ? 16 : 4, addr);
	ret = nl_talk(nlh, route_get_cb, &r);
	if (ret)
		return ret;
	if (!r.oif || !if_indextoname(r.oif, dev))
		return -ENETUNREACH;
	if (!r.mtu && (ret = host_dev_mtu(dev, &r.mtu)))
		return ret;
	*mtu = r.mtu;
	return 0;
}

/* A device's MTU, in this network namespace (sysfs may be another's). */
int host_dev_mtu(const char *dev, __u32 *mtu)
{
	struct ifreq ifr;
	int fd, ret;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ret = ioctl(fd, SIOCGIFMTU, &ifr) ? -errno : 0;
	close(fd);
	if (!ret)
		*mtu = (__u32)ifr.ifr_mtu;
	return ret;
}
