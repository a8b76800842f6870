// SPDX-License-Identifier: MIT
#define _GNU_SOURCE	/* vasprintf */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "kvmbpf.h"

struct kvb_opts opts = { .bpffs = KVB_DEFAULT_BPFFS };

int parse_mac(const char *s, __u8 mac[6])
{
	unsigned int b[6];
	char tail;

	/* xx:xx:xx:xx:xx:xx, hex digits (%x would take a sign) */
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return -EINVAL;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (__u8)b[i];
	/* A port's own address must be a unicast, non-zero one. */
	if ((mac[0] & 1) || mac_zero(mac))
		return -EINVAL;
	return 0;
}

bool mac_zero(const __u8 mac[6])
{
	return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* An IPv4 or IPv6 unicast address a guest may own. */
int parse_addr(const char *s, struct kvb_addr_key *k)
{
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, s, k->addr) == 1) {
		__u8 *a = k->addr;

		k->family = 4;
		if (!(a[0] | a[1] | a[2] | a[3]) || a[0] >= 224)
			return -EINVAL;
		return 0;
	}
	if (inet_pton(AF_INET6, s, k->addr) == 1) {
		static const __u8 zero[16];

		k->family = 6;
		if (!memcmp(k->addr, zero, 16) || k->addr[0] == 0xff)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

void fmt_addr(const struct kvb_addr_key *k, char buf[64])
{
	inet_ntop(k->family == 4 ? AF_INET : AF_INET6, k->addr, buf, 64);
}

/* Is k an IPv6 link-local address (fe80::/10)? */
bool addr_link_local(const struct kvb_addr_key *k)
{
	return k->family == 6 && k->addr[0] == 0xfe &&
	       (k->addr[1] & 0xc0) == 0x80;
}

/* The datapath's clock (kvb_now: CLOCK_MONOTONIC, coarse), in ns. */
__u64 clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* CLOCK_MONOTONIC, exact (bpf_ktime_get_ns's clock), in ns */
__u64 clock_mono_exact_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* FNV-1a: hash h (FNV1A_INIT to start) continued over len bytes at p */
__u64 fnv1a(__u64 h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

int parse_onoff(const char *s, bool *v)
{
	if (!strcmp(s, "on"))
		*v = true;
	else if (!strcmp(s, "off"))
		*v = false;
	else
		return -EINVAL;
	return 0;
}

void fmt_mac(const __u8 *m, char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out)
{
	unsigned long v;
	char *end;

	/* digits only: no sign, no space (strtoul takes both, and wraps a
	 * negative number) */
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (__u32)v;
	return 0;
}

#define KVB_DROP_NAME(name, slot, str, help) [slot] = str,
static const char *const drop_names[KVB_DROP_SLOTS] = {
	KVB_DROP_REASONS(KVB_DROP_NAME)
};

/* A slot no reason uses (free, or retired) has no name. */
bool drop_named(unsigned int reason)
{
	return reason < KVB_DROP_SLOTS && drop_names[reason];
}

const char *drop_name(unsigned int reason)
{
	return drop_named(reason) ? drop_names[reason] : "unknown";
}

/* The device's current name, or the name recorded at attach if it is gone. */
const char *ifname_of(__u32 ifindex, const struct kvb_port *p, char buf[16])
{
	if (if_indextoname(ifindex, buf))
		return buf;
	if (p) {
		snprintf(buf, 16, "%s", p->name);
		return buf;
	}
	snprintf(buf, 16, "if%u", ifindex);
	return buf;
}

/*
 * Process pid's /proc/PID/what into buf (len bytes at most, with a NUL
 * after them): the bytes read, or -1 when there is no such process.
 */
static ssize_t proc_read(int pid, const char *what, char *buf, size_t len)
{
	char path[64];
	size_t n;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	return (ssize_t)n;
}

/* Are paths a and b the same file (device and inode)? */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/*
 * Is process pid alive and is its name (/proc/PID/comm) prefixed by
 * name? A pid read from a file is checked before it is signalled: the
 * process that wrote it may be long gone and its pid another's.
 */
bool pid_is(int pid, const char *name)
{
	char comm[32];

	return proc_read(pid, "comm", comm, sizeof(comm)) >= 0 &&
	       !strncmp(comm, name, strlen(name));
}

/* Has process pid the argument arg, whole, on its command line? */
bool pid_has_arg(int pid, const char *arg)
{
	char buf[8192];
	ssize_t n = proc_read(pid, "cmdline", buf, sizeof(buf));
	size_t len = strlen(arg);

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
		if (!strncmp(buf + i, arg, len + 1))
			return true;
	return false;
}

/*
 * Does process pid run the program file at path exe? The same inode, or
 * (/proc/PID/exe) the file's path itself, the path it resolves to (a
 * /usr/sbin that links to /usr/bin), or either " (deleted)": the file an
 * upgraded package replaced, which the process still runs. Only root
 * writes there.
 */
bool pid_runs(int pid, const char *exe)
{
	char path[64], link[PATH_MAX], real[PATH_MAX];
	ssize_t n;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (same_file(path, exe))
		return true;
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = 0;
	if (n > 10 && !strcmp(link + n - 10, " (deleted)"))
		link[n - 10] = 0;
	return !strcmp(link, exe) ||
	       (realpath(exe, real) && !strcmp(link, real));
}

/*
 * The process that runs program exe with argument arg (pid_has_arg), by
 * a walk of /proc: 0 when there is none. By the file it runs, not by its
 * name: anyone may start a script called dnsmasq with our arguments.
 */
int pid_find(const char *exe, const char *arg)
{
	struct dirent *d;
	int found = 0;
	DIR *dir = opendir("/proc");

	if (!dir)
		return 0;
	while (!found && (d = readdir(dir))) {
		int pid = atoi(d->d_name);

		if (pid > 0 && pid_runs(pid, exe) && pid_has_arg(pid, arg))
			found = pid;
	}
	closedir(dir);
	return found;
}

/*
 * Does process pid run this very program (the same file as ours)? The
 * watcher is a fork of the kvmbpf that started it: a binary installed
 * under another name has another comm.
 */
bool pid_runs_self(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return pid > 0 && same_file(path, "/proc/self/exe");
}

/*
 * When process pid started (/proc/PID/stat's starttime, clock ticks since
 * boot), 0 when it does not run: with the pid, who a process is (a pid
 * alone may have been given to another process since).
 */
unsigned long long pid_start_time(int pid)
{
	char buf[1024], *p;
	unsigned long long t = 0;

	if (proc_read(pid, "stat", buf, sizeof(buf)) < 0)
		return 0;
	/* after the name (in parentheses, which may hold anything): state
	 * is field 3, starttime field 22 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			 "%*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &t) != 1)
		return 0;
	return t;
}

bool is_help(const char *arg)
{
	return !strcmp(arg, "help") || !strcmp(arg, "-h") ||
	       !strcmp(arg, "--help");
}

/*
 * A name the operator gives (a network's, an ACL's): 1 to KVB_NAME_LEN - 1
 * characters of [A-Za-z0-9_.-], not beginning with '-' (it would read as
 * an option) and not "help" (the word after a command asks its help, so
 * such a network could be named nowhere).
 */
bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n >= KVB_NAME_LEN || s[0] == '-' || is_help(s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

/*
 * Help text for an 80-column terminal. A unit is a word, or a bracketed
 * group with its spaces ("[ct-timeout KIND SECONDS]"), which a line never
 * splits; a unit wider than a line overruns it rather than being cut.
 */
#define HELP_COLUMNS 80

static void wrap_unit(struct wrap *w, const char *u, size_t len)
{
	if (w->col > w->indent && w->col + 1 + (int)len > HELP_COLUMNS) {
		printf("\n%*s", w->indent, "");
		w->col = w->indent;
	} else if (w->col > 0) {
		putchar(' ');
		w->col++;
	}
	printf("%.*s", (int)len, u);
	w->col += (int)len;
}

void wrap_words(struct wrap *w, const char *s)
{
	while (*s) {
		size_t n = 0;
		int depth = 0;

		while (*s == ' ' || *s == '\n')
			s++;
		for (; s[n] && (depth > 0 || (s[n] != ' ' && s[n] != '\n')); n++)
			if (s[n] == '[')
				depth++;
			else if (s[n] == ']' && depth > 0)
				depth--;
		if (n)
			wrap_unit(w, s, n);
		s += n;
	}
}

void wrap_printf(struct wrap *w, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	wrap_words(w, s);
	free(s);
}

/*
 * "kvmbpf net add NAME ..." lines of one object, each after lead, wrapped
 * at a word (or bracket) boundary and continued under the command's
 * first argument
 */
void object_synopsis(const struct object *o, const char *lead,
		     const char *more)
{
	for (const struct cmd *c = o->cmds; c->fn; c++) {
		int summary_col = (int)strlen(lead) + 33;
		struct wrap w = { 0 };

		if (!c->args)
			continue;
		w.col = printf("%s%s%s%s", lead, o->name, c->name ? " " : "",
			       c->name ? c->name : "");
		w.indent = w.col + 1 > 40 ? (int)strlen(lead) + 4 : w.col + 1;
		wrap_words(&w, c->args);
		/* an object that is one command: its summary beside it */
		if (o->summary && !c->name) {
			if (w.col < summary_col - 1)
				w.col += printf("%*s", summary_col - 1 - w.col,
						"");
			w.indent = summary_col;
			wrap_words(&w, o->summary);
		}
		printf("\n");
		lead = more;
	}
}

int object_help(const struct object *o)
{
	out_plain();
	object_synopsis(o, "Usage: kvmbpf ", "       kvmbpf ");
	if (o->details) {
		printf("\n");
		o->details();
	}
	return 0;
}

const struct cmd *object_cmd(const struct object *o, int argc, char **argv)
{
	const struct cmd *c = o->cmds;

	if (!c->name)		/* the object is the command */
		return c;
	for (; argc && c->fn; c++)
		if (!strcmp(argv[0], c->name))
			return c;
	return NULL;
}

int object_call(const struct object *o, int argc, char **argv)
{
	const struct cmd *c = object_cmd(o, argc, argv);

	if (!c)
		return err("%s: unknown command '%s'", o->name,
			   argc ? argv[0] : "");
	if (c->name)
		argc--, argv++;
	return c->fn(argc, argv);
}

const struct keyword *keyword_find(const struct keyword *kws, size_t n,
				   const char *word)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kws[i].name, word))
			return &kws[i];
	return NULL;
}

void keyword_list(const struct keyword *kws, size_t n, char *buf, size_t len)
{
	size_t w = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && w < len; i++)
		w += (size_t)snprintf(buf + w, len - w, "%s%s",
				      !i ? "" : i + 1 == n ? " or " : ", ",
				      kws[i].name);
}

void keyword_help(const struct keyword *kws, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *h = kws[i].help, *nl;
		int head = printf("  %s%s%s", kws[i].name,
				  kws[i].arg ? " " : "",
				  kws[i].arg ? kws[i].arg : "");

		/* a head wider than its column: the help starts below it */
		if (head > 26) {
			printf("\n");
			head = 0;
		}
		/* a help of several lines continues under its first */
		for (; h; head = 0) {
			nl = strchr(h, '\n');
			printf("%*s%.*s\n", 27 - head, "",
			       nl ? (int)(nl - h) : (int)strlen(h), h);
			h = nl ? nl + 1 : NULL;
		}
	}
}

int keyword_nargs(const struct keyword *kw)
{
	int n = 0;

	for (const char *a = kw->arg; a && *a; n++) {
		a += strcspn(a, " ");
		a += strspn(a, " ");
	}
	return n;
}

int keyword_take(const char *cmd, const struct keyword *kw, unsigned int slot,
		 int argc, char **argv, int i, struct kw_seen *seen)
{
	int nargs = keyword_nargs(kw);
	__u64 bit = 1ULL << (slot & 63);

	if (i + nargs >= argc)
		return err("%s: %s needs %s", cmd, kw->name, kw->arg);
	if ((seen->given & bit) && !(kw->flags & KW_REPEAT)) {
		if (!nargs)
			return err("%s: %s given twice", cmd, kw->name);
		return err("%s: %s given twice (%s, then %s)", cmd, kw->name,
			   seen->first[slot & 63], argv[i + 1]);
	}
	if (!(seen->given & bit))
		seen->first[slot & 63] = nargs ? argv[i + 1] : NULL;
	seen->given |= bit;
	return 0;
}

int list_check(const char *cmd, const char *kw, const char *list)
{
	size_t n = strlen(list);

	if (!n || list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,"))
		return err("%s: %s %s: an empty element in the list", cmd, kw,
			   list);
	return 0;
}
