// SPDX-License-Identifier: MIT
/* The output layer (see output.h): text or JSON through one set of calls. */
#define _GNU_SOURCE	/* asprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "output.h"

static struct {
	bool json, pretty;
	struct jw *w;		/* the JSON writer, into buf */
	FILE *mem;
	char *buf;
	size_t len;
	char *errors;		/* under -j: every err() message, "; " */
	bool streamed;		/* out_line wrote documents already */
} out;

static void doc_begin(void)
{
	out.mem = open_memstream(&out.buf, &out.len);
	out.w = out.mem ? jw_new(out.mem, out.pretty) : NULL;
	if (!out.w) {
		/* no memory for a buffer: write straight out */
		out.w = jw_new(stdout, out.pretty);
	}
}

/* The held document, without writing it; NULL if nothing was printed. */
static const char *doc_end(void)
{
	if (out.mem) {
		free(out.w);
		out.w = NULL;
		fclose(out.mem);
		out.mem = NULL;
		return out.len ? out.buf : NULL;
	}
	free(out.w);
	out.w = NULL;
	return NULL;
}

void out_open(bool json, bool pretty)
{
	out.json = json;
	out.pretty = pretty;
	if (json)
		doc_begin();
}

bool is_json(void)
{
	return out.json;
}

void out_plain(void)
{
	if (!out.json)
		return;
	doc_end();
	free(out.buf);
	out.buf = NULL;
	out.json = false;
}

int out_close(int rc)
{
	const char *doc;

	if (!out.json) {
		fflush(stdout);
		return rc;
	}
	doc = doc_end();
	if (out.errors) {
		struct jw *w = jw_new(stdout, out.pretty);

		jw_obj_begin(w);
		jw_kstr(w, "error", out.errors);
		jw_obj_end(w);
		jw_free(w);
		if (!rc)
			rc = 1;
	} else if (doc) {
		printf("%s\n", doc);
	} else if (!out.streamed) {
		/* a command with nothing to say says null (bpftool does) */
		printf("null\n");
	}
	free(out.buf);
	out.buf = NULL;
	free(out.errors);
	out.errors = NULL;
	out.json = false;
	fflush(stdout);
	return rc;
}

void out_line(void)
{
	const char *doc;

	if (!out.json) {
		fflush(stdout);
		return;
	}
	doc = doc_end();
	if (doc)
		printf("%s\n", doc);
	out.streamed = true;
	fflush(stdout);
	free(out.buf);
	out.buf = NULL;
	doc_begin();
}

void open_json_object(const char *key)
{
	if (!out.json)
		return;
	if (key)
		jw_key(out.w, key);
	jw_obj_begin(out.w);
}

void close_json_object(void)
{
	if (out.json)
		jw_obj_end(out.w);
}

void open_json_array(const char *key)
{
	if (!out.json)
		return;
	if (key)
		jw_key(out.w, key);
	jw_arr_begin(out.w);
}

void close_json_array(void)
{
	if (out.json)
		jw_arr_end(out.w);
}

static void json_key(const char *key)
{
	if (key)
		jw_key(out.w, key);
}

void print_string(enum print_type t, const char *key, const char *fmt,
		  const char *value)
{
	if (out.json) {
		if (!(t & PRINT_JSON))
			return;
		json_key(key);
		if (value)
			jw_str(out.w, value);
		else
			jw_null(out.w);
	} else if (t & PRINT_TEXT) {
		printf(fmt, value ? value : "-");
	}
}

void print_uint(enum print_type t, const char *key, const char *fmt,
		uint64_t value)
{
	if (out.json) {
		if (!(t & PRINT_JSON))
			return;
		json_key(key);
		jw_uint(out.w, value);
	} else if (t & PRINT_TEXT) {
		printf(fmt, (unsigned long long)value);
	}
}

static void print_boolean(enum print_type t, const char *key,
			  const char *fmt, bool value, const char *yes,
			  const char *no)
{
	if (out.json) {
		if (!(t & PRINT_JSON))
			return;
		json_key(key);
		jw_bool(out.w, value);
	} else if (t & PRINT_TEXT) {
		printf(fmt, value ? yes : no);
	}
}

void print_onoff(enum print_type t, const char *key, const char *fmt,
		 bool value)
{
	print_boolean(t, key, fmt, value, "on", "off");
}

void print_bool(enum print_type t, const char *key, const char *fmt,
		bool value)
{
	print_boolean(t, key, fmt, value, "true", "false");
}

void print_null(const char *key)
{
	if (!out.json)
		return;
	json_key(key);
	jw_null(out.w);
}

void print_text(const char *fmt, ...)
{
	va_list ap;

	if (out.json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void print_nl(void)
{
	if (!out.json)
		putchar('\n');
}

int err(const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL, *all = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!out.json) {
		fprintf(stderr, "kvmbpf: %s\n", msg ? msg : fmt);
	} else if (!out.errors) {
		out.errors = msg;
		msg = NULL;
	} else if (msg && asprintf(&all, "%s; %s", out.errors, msg) >= 0) {
		free(out.errors);
		out.errors = all;
	}
	free(msg);
	return 1;
}

void warn(const char *fmt, ...)
{
	va_list ap;

	fputs("kvmbpf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
