/* libFuzzer: anemos-inventory's reading of /proc/cpuinfo (inventory/cpu.c), any text taken
 * as the file. Besides crashes and undefined behaviour (a count that overflows): the counts
 * are never negative, and the model becomes a JSON string (json_text) that renders. */
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"
#include "support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpu_facts cpu;
	char *text = fuzz_text(data, size), *dumped;
	json_t *model;

	if (!text)
		return 0;
	cpuinfo_parse(text, &cpu);
	free(text);
	if (cpu.sockets < 0 || cpu.cores < 0 || cpu.threads < 0 || cpu.mhz < 0)
		fuzz_fail("negative processor counts: %ld sockets, %ld cores, %ld threads, %ld MHz",
			  cpu.sockets, cpu.cores, cpu.threads, cpu.mhz);
	if (!(model = json_text(cpu.model)))
		fuzz_fail("the model '%s' does not become a JSON value", cpu.model);
	if (!(dumped = json_dumps(model, JSON_ENCODE_ANY)))
		fuzz_fail("the model's JSON value does not render");
	free(dumped);
	json_decref(model);
	return 0;
}
