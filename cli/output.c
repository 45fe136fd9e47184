/*
 * anemosctl's human output: aligned tables, sizes in binary units, JSON, and the progress
 * line of long transfers.
 */
#include <assert.h>
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "anemosctl.h"

#define TABLE_FIRST_ROOM	16	/* rows allocated at first */
#define PROGRESS_INTERVAL	0.1	/* seconds between two drawings of a progress line */
#define TABLE_MIN_CUT		8	/* a column is cut to no fewer characters than this */

int table_init(struct table *table, size_t columns, const char *const *header)
{
	assert(columns <= TABLE_MAX_COLUMNS);
	memset(table, 0, sizeof(*table));
	table->columns = columns;
	return table_add_row(table, header);
}

int table_add_row(struct table *table, const char *const *cells)
{
	char **row, **grown;
	size_t room, i, len;

	if (table->rows == table->room) {
		room = table->room ? table->room * 2 : TABLE_FIRST_ROOM;
		if (!(grown = reallocarray(table->cells, room * table->columns, sizeof(*grown))))
			return err_set(-ENOMEM, "out of memory");
		table->cells = grown;
		table->room = room;
	}
	row = table->cells + table->rows * table->columns;
	for (i = 0; i < table->columns; i++) {
		if (!(row[i] = strdup(cells[i]))) {
			while (i-- > 0)
				free(row[i]);
			return err_set(-ENOMEM, "out of memory");
		}
	}
	for (i = 0; i < table->columns; i++) {
		len = text_width(row[i]);
		if (len > table->width[i])
			table->width[i] = len;
	}
	table->rows++;
	return 0;
}

size_t text_width(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += ((unsigned char)*text & 0xc0) != 0x80;
	return n;
}

/* The terminal's width in characters when stdout is one, else 0. */
static size_t terminal_columns(void)
{
	struct winsize ws;

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0)
		return 0;
	return ws.ws_col;
}

/* Cuts the widest columns of @table, one character at a time, until a row fits @room. */
static void table_fit(struct table *table, size_t room)
{
	size_t total = 2 * (table->columns - 1), widest, i;

	for (i = 0; i < table->columns; i++)
		total += table->width[i];
	while (total > room) {
		for (widest = 0, i = 1; i < table->columns; i++)
			if (table->width[i] > table->width[widest])
				widest = i;
		if (table->width[widest] <= TABLE_MIN_CUT)
			return;		/* too narrow a terminal: the lines wrap */
		table->width[widest]--;
		total--;
	}
}

/* Prints at most @width characters of @text, "~" last when cut, padded to @width if @pad. */
static void print_cell(const char *text, size_t width, bool pad)
{
	size_t len = text_width(text), shown = 0;
	const char *p;

	if (len <= width || !width) {
		print_text(text, 0);
		shown = len;
	} else {
		for (p = text; *p; p++) {
			if (((unsigned char)*p & 0xc0) != 0x80 && ++shown == width)
				break;
			putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
		}
		putchar('~');
	}
	while (pad && shown++ < width)
		putchar(' ');
}

void table_print(struct table *table)
{
	size_t r, c, last = table->columns - 1, room = terminal_columns();
	const char *term = getenv("TERM"), *sgr;
	bool colour = room && table->colour && !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
	char *const *row;

	if (room)
		table_fit(table, room);
	for (r = 0; r < table->rows; r++) {
		row = table->cells + r * table->columns;
		for (c = 0; c <= last; c++) {
			sgr = colour && r > 0 && c == table->colour_column ? table->colour(row[c]) : NULL;
			if (sgr)
				printf("\033[%sm", sgr);
			print_cell(row[c], room || c < last ? table->width[c] : 0, false);
			if (sgr)
				fputs("\033[0m", stdout);
			if (c < last) {
				for (size_t w = text_width(row[c]); w < table->width[c]; w++)
					putchar(' ');
				fputs("  ", stdout);
			}
		}
		putchar('\n');
	}
}

void table_free(struct table *table)
{
	size_t i;

	for (i = 0; i < table->rows * table->columns; i++)
		free(table->cells[i]);
	free(table->cells);
	memset(table, 0, sizeof(*table));
}

void print_text(const char *text, size_t width)
{
	size_t len;

	for (len = 0; text[len]; len++)
		putchar((unsigned char)text[len] < 0x20 || text[len] == 0x7f ? '?' : text[len]);
	for (; len < width; len++)
		putchar(' ');
}

void print_json(const json_t *json)
{
	/* A failed write shows in ferror(stdout), which main() checks before exiting. */
	if (json && json_dumpf(json, stdout, JSON_INDENT(2)) == 0)
		putchar('\n');
}

const char *json_text(const json_t *object, const char *key)
{
	const char *text = json_string_value(json_object_get(object, key));

	return text && *text ? text : "-";
}

void format_size(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double value = (double)bytes / 1024;
	size_t unit = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%u B", (unsigned)bytes);
		return;
	}
	while (value >= 1024 && unit + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1024;
		unit++;
	}
	snprintf(buf, len, "%.1f %s", value, units[unit]);
}

void print_event(const json_t *event)
{
	json_int_t bytes = json_integer_value(json_object_get(event, "bytes"));
	json_int_t total = json_integer_value(json_object_get(event, "total"));
	char done[16], all[16];

	print_text(json_text(event, "time"), 0);
	fputs("  ", stdout);
	print_text(json_text(event, "level"), 5);
	fputs("  ", stdout);
	print_text(json_text(event, "phase"), 10);
	fputs("  ", stdout);
	print_text(json_text(event, "message"), 0);
	if (json_is_integer(json_object_get(event, "bytes")) && bytes >= 0) {
		format_size(done, sizeof(done), (uint64_t)bytes);
		if (total > 0) {
			format_size(all, sizeof(all), (uint64_t)total);
			printf("  [%s / %s, %.0f%%]", done, all, (double)bytes * 100 / (double)total);
		} else {
			printf("  [%s]", done);
		}
	}
	putchar('\n');
}

/* Returns the seconds from @from to @to. */
static double seconds_between(const struct timespec *from, const struct timespec *to)
{
	return (double)(to->tv_sec - from->tv_sec) + (double)(to->tv_nsec - from->tv_nsec) / 1e9;
}

/* Draws the progress line for @done bytes at time @now. */
static void progress_draw(struct progress *progress, uint64_t done, const struct timespec *now)
{
	double elapsed = seconds_between(&progress->start, now);
	char sofar[16], total[16], rate[16];

	format_size(sofar, sizeof(sofar), done);
	format_size(rate, sizeof(rate), elapsed > 0 ? (uint64_t)((double)done / elapsed) : 0);
	if (progress->total > 0) {
		format_size(total, sizeof(total), progress->total);
		fprintf(stderr, "\r%s %s / %s  %3u%%  %s/s\033[K", progress->label, sofar, total,
			(unsigned)((double)done * 100 / (double)progress->total), rate);
	} else {
		fprintf(stderr, "\r%s %s  %s/s\033[K", progress->label, sofar, rate);
	}
	progress->drawn = *now;
}

void progress_start(struct progress *progress, const char *label, uint64_t total)
{
	memset(progress, 0, sizeof(*progress));
	progress->label = label;
	progress->total = total;
	progress->shown = isatty(STDERR_FILENO) &&
			  clock_gettime(CLOCK_MONOTONIC, &progress->start) == 0;
}

void progress_update(struct progress *progress, uint64_t done)
{
	struct timespec now;

	if (!progress->shown || clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return;
	if (seconds_between(&progress->drawn, &now) >= PROGRESS_INTERVAL)
		progress_draw(progress, done, &now);
}

void progress_end(struct progress *progress, uint64_t done)
{
	struct timespec now;

	if (!progress->shown)
		return;
	if (clock_gettime(CLOCK_MONOTONIC, &now) == 0)
		progress_draw(progress, done, &now);
	fputc('\n', stderr);
	progress->shown = 0;
}
