/* anemos-mkimg [--out DIR] [--cache DIR] [--manifest FILE] RECIPE: builds the image a recipe
 * describes in a folder under the cache, then writes OUT/NAME.tar.zst and
 * OUT/NAME.manifest.json.
 *
 * The steps (lib/recipe_steps.h, which anemos-agent runs on targets too), each a /bin/sh
 * that sources the recipe and images/base/BASE.sh:
 *   base       base_build: the base system into $ROOT (busybox: Debian packages unpacked;
 *              debootstrap: a minimal Debian)
 *   packages   base_packages: the recipe's packages (debootstrap: apt-get in the chroot)
 *   provision  base_provision: the recipe's provision function, if it has one
 *   files      base_files (base/files.sh): the recipe folder's files/ tree over $ROOT, its
 *              per-host templates under /etc/anemos/templates
 *   finish     base_finish: /boot/vmlinuz and /boot/initrd.img in place, caches cleaned
 * then the archive and its manifest. Every image carries boot/vmlinuz and boot/initrd.img.
 * With --manifest, the list of the finished tree (lib/filelist.h: path, type, mode, SHA-256)
 * goes to FILE before the archive is written: `anemos-agent --manifest DIR` lists a tree
 * unpacked or installed from the image the same way, so the two can be compared with diff. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "mkimg.h"
#include "recipe_steps.h"

#ifndef ANEMOS_IMAGES_DIR
#define ANEMOS_IMAGES_DIR "images"   /* relative to the repository, where make runs */
#endif

#define KERNEL_PATH "boot/vmlinuz"
#define INITRD_PATH "boot/initrd.img"

static void usage(FILE *out)
{
	fputs("usage: anemos-mkimg [--out DIR] [--cache DIR] [--manifest FILE] RECIPE\n"
	      "  --out DIR        where NAME.tar.zst and NAME.manifest.json go (default build/images)\n"
	      "  --cache DIR      downloaded packages and the build folder (default build/images-cache)\n"
	      "  --manifest FILE  also write the list of the image's files (one \"PATH TYPE MODE DATA\"\n"
	      "                   line each, as anemos-agent --manifest prints it) to FILE\n",
	      out);
}

/* mkdir -p dir, then its absolute path into abs[PATH_MAX]. */
static void make_dir(const char *what, const char *dir, char *abs)
{
	int rc;

	if ((rc = tree_mkdirs(dir, 0755)) < 0)
		log_fatal("%s %s: %s", what, dir, strerror(-rc));
	if (!realpath(dir, abs))
		log_fatal("%s %s: %s", what, dir, strerror(errno));
}

/* The edge of the convention (errors.h): logs the message of the failure rc just returned, or
 * what rc (-errno) means when it carried none (an allocation libarchive could not make). */
static void log_failure(int rc)
{
	log_error("%s", err_msg()[0] ? err_msg() : strerror(rc < 0 ? -rc : EIO));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "cache", required_argument, NULL, 'c' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out_arg = "build/images", *cache_arg = "build/images-cache", *images_dir;
	const char *files_arg = NULL; /* --manifest: where the file list goes */
	char out[PATH_MAX], cache[PATH_MAX], work[PATH_MAX + 64], root[PATH_MAX + 80];
	char base_script[PATH_MAX + 32], image[PATH_MAX + 80], tmp[PATH_MAX + 90], manifest[PATH_MAX + 90];
	struct image_file img;
	struct recipe *r;
	double t0 = now_s();
	int opt, rc;

	/* File names in images are UTF-8 (Debian's are): libarchive then writes them as such
	 * in the pax headers instead of marking them binary. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out_arg = optarg;
			break;
		case 'c':
			cache_arg = optarg;
			break;
		case 'm':
			files_arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (!(r = recipe_load(argv[optind]))) {
		log_failure(-errno);
		return 1;
	}
	images_dir = getenv("ANEMOS_IMAGES_DIR") ? getenv("ANEMOS_IMAGES_DIR") : ANEMOS_IMAGES_DIR;
	snprintf(base_script, sizeof(base_script), "%s/base/%s.sh", images_dir, r->base);
	if (access(base_script, R_OK) < 0)
		log_fatal("base %s: %s: %s (set ANEMOS_IMAGES_DIR to the images/ folder)", r->base,
			  base_script, strerror(errno));
	if (strcmp(r->base, "debootstrap") == 0 && geteuid() != 0)
		log_fatal("recipe %s: base=debootstrap needs root (debootstrap and chroot)", r->path);
	make_dir("--out", out_arg, out);
	make_dir("--cache", cache_arg, cache);

	snprintf(work, sizeof(work), "%s/work/%s", cache, r->name);
	snprintf(root, sizeof(root), "%s/root", work);
	if ((rc = tree_remove(work)) < 0)
		log_fatal("cannot clear the build folder %s: %s", work, strerror(-rc));
	if ((rc = tree_mkdirs(root, 0755)) < 0)
		log_fatal("cannot make the build folder %s: %s", root, strerror(-rc));
	if (!realpath(base_script, tmp))
		log_fatal("%s: %s", base_script, strerror(errno));
	setenv("MKIMG_BASE", tmp, 1);
	setenv("ROOT", root, 1);
	setenv("CACHE", cache, 1);
	setenv("RECIPE", r->path, 1);
	setenv("RECIPE_DIR", r->dir, 1);
	setenv("MKIMG_WORK", work, 1);
	log_info("%s: building from %s (base %s, format %s) in %s", r->name, r->path, r->base, r->format, root);

	for (size_t i = 0; i < RECIPE_STEPS; i++)
		if ((!recipe_steps[i].provision_only || r->has_provision) &&
		    (rc = recipe_run_step(r, recipe_steps[i].name, recipe_steps[i].call)) < 0) {
			log_failure(rc);
			log_fatal("%s: build failed; the tree is left in %s", r->name, root);
		}
	if (!tree_has_file(root, KERNEL_PATH) || !tree_has_file(root, INITRD_PATH))
		log_fatal("%s: the image has no /%s or no /%s: the installer boots those", r->name,
			  KERNEL_PATH, INITRD_PATH);
	if (files_arg && (rc = manifest_write_files(files_arg, root)) < 0) {
		log_failure(rc);
		log_fatal("%s: writing the file list failed; the tree is left in %s", r->name, root);
	}

	snprintf(image, sizeof(image), "%s/%s.%s", out, r->name, r->format);
	snprintf(tmp, sizeof(tmp), "%s.tmp", image);
	snprintf(manifest, sizeof(manifest), "%s/%s.manifest.json", out, r->name);
	log_info("%s: writing %s", r->name, image);
	/* busybox trees are unpacked, not installed: whoever built them, root owns everything. */
	if ((rc = archive_write_tree(root, tmp, strcmp(r->base, "busybox") == 0, &img)) < 0) {
		log_failure(rc);
		log_fatal("%s: writing the archive failed", r->name);
	}
	if (rename(tmp, image) < 0)
		log_fatal("%s: %s", image, strerror(errno));
	if ((rc = manifest_write(manifest, r, &img, KERNEL_PATH, INITRD_PATH)) < 0) {
		log_failure(rc);
		return 1;
	}
	if ((rc = tree_remove(work)) < 0)
		log_warn("cannot remove the build folder %s: %s", work, strerror(-rc));
	log_info("%s: %s %lld bytes (%lld MiB of files unpacked), sha256 %s, built in %.1f s", r->name,
		 image, img.size, img.uncompressed >> 20, img.sha256, now_s() - t0);
	recipe_free(r);
	return 0;
}
