/* SPDX-License-Identifier: MIT */
/*
 * The one output layer, in iproute2's manner: main() opens it once, and
 * every command prints through print_*(PRINT_ANY, key, fmt, value), which
 * writes the text (fmt, value) or the JSON (key: value) in one call. Under
 * -j the document is held until the command ends, so that a command that
 * fails prints {"error": "..."} and nothing else, and one that prints
 * nothing prints null: stdout is always one JSON document.
 */
#ifndef KVB_OUTPUT_H
#define KVB_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

enum print_type {
	PRINT_TEXT = 1,
	PRINT_JSON = 2,
	PRINT_ANY = PRINT_TEXT | PRINT_JSON,
};

void out_open(bool json, bool pretty);
/* Print the JSON document (or the error object); returns rc. */
int out_close(int rc);
bool is_json(void);
/* help text: plain text even under -j */
void out_plain(void);

/* JSON containers; key NULL inside an array (or at the top). Nothing in
 * text. */
void open_json_object(const char *key);
void close_json_object(void);
void open_json_array(const char *key);
void close_json_array(void);

/* value NULL: JSON null, text "-" */
void print_string(enum print_type t, const char *key, const char *fmt,
		  const char *value);
void print_uint(enum print_type t, const char *key, const char *fmt,
		uint64_t value);
/* JSON true/false, text "on"/"off" */
void print_onoff(enum print_type t, const char *key, const char *fmt,
		 bool value);
/* JSON true/false, text "true"/"false" */
void print_bool(enum print_type t, const char *key, const char *fmt,
		bool value);
/* JSON null (text: nothing) */
void print_null(const char *key);
/* text only */
void print_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void print_nl(void);
/* a stream of documents (monitor): end the current one, write it out */
void out_line(void);

/* "kvmbpf: " + message on stderr, or {"error": message} under -j;
 * returns 1 for `return err(...)` */
int err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* a note that is not a failure: stderr in both modes */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
