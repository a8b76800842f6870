// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JW_DEPTH 16

struct jw {
	FILE *out;
	bool pretty;
	int depth;
	bool first[JW_DEPTH];	/* no element yet at this depth */
	bool after_key;
};

struct jw *jw_new(FILE *out, bool pretty)
{
	struct jw *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->out = out;
	w->pretty = pretty;
	w->first[0] = true;
	return w;
}

void jw_free(struct jw *w)
{
	if (!w)
		return;
	fputc('\n', w->out);
	free(w);
}

static void indent(struct jw *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->out);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

/* Separator and indentation before a value or a key. */
static void pre_value(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		fputc(',', w->out);
	w->first[w->depth] = false;
	if (w->depth)
		indent(w);
}

static void open(struct jw *w, char c)
{
	pre_value(w);
	fputc(c, w->out);
	if (w->depth < JW_DEPTH - 1)
		w->depth++;
	w->first[w->depth] = true;
}

static void close_(struct jw *w, char c)
{
	bool empty = w->first[w->depth];

	if (w->depth)
		w->depth--;
	if (!empty)
		indent(w);
	fputc(c, w->out);
}

void jw_obj_begin(struct jw *w) { open(w, '{'); }
void jw_obj_end(struct jw *w) { close_(w, '}'); }
void jw_arr_begin(struct jw *w) { open(w, '['); }
void jw_arr_end(struct jw *w) { close_(w, ']'); }

static void put_string(struct jw *w, const char *s)
{
	fputc('"', w->out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(w->out, "\\%c", c);
		else if (c < 0x20)
			fprintf(w->out, "\\u%04x", c);
		else
			fputc(c, w->out);
	}
	fputc('"', w->out);
}

void jw_key(struct jw *w, const char *key)
{
	pre_value(w);
	put_string(w, key);
	fputs(w->pretty ? ": " : ":", w->out);
	w->after_key = true;
}

void jw_str(struct jw *w, const char *s)
{
	pre_value(w);
	put_string(w, s);
}

void jw_uint(struct jw *w, uint64_t v)
{
	pre_value(w);
	fprintf(w->out, "%llu", (unsigned long long)v);
}

void jw_bool(struct jw *w, bool v)
{
	pre_value(w);
	fputs(v ? "true" : "false", w->out);
}

void jw_null(struct jw *w)
{
	pre_value(w);
	fputs("null", w->out);
}

void jw_kstr(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	if (s)
		jw_str(w, s);
	else
		jw_null(w);
}

void jw_kuint(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_uint(w, v);
}

void jw_kbool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}
