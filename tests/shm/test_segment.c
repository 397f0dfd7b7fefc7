/* Tests for shm/segment.c: creating, attaching and refusing segments; rings
 * by name; publishers and subscribers across attachments. */
#include "tests/support/testing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/segment.h"

static char bus_name[64];

static int setup(void **state)
{
	(void)state;
	ht_unique_name(bus_name, sizeof bus_name, "seg");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hermes_bus_unlink(bus_name);
	return 0;
}

/* Write raw bytes as the segment file of bus_name. */
static void write_raw_segment(const void *bytes, size_t len)
{
	char path[80];
	snprintf(path, sizeof path, "/hermes.%s", bus_name);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (len)
		assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	close(fd);
}

/* A 1 MiB bus of bus_name with one ring. */
static hermes_bus *bus_with_ring(const hermes_ring_config *cfg)
{
	hermes_bus *bus;
	assert_int_equal(hermes_bus_create(bus_name, 1 << 20, 0600, &bus), HERMES_OK);
	assert_int_equal(hermes_ring_create(bus, cfg), HERMES_OK);
	return bus;
}

static void test_create_attach_and_exchange_across_handles(void **state)
{
	(void)state;
	hermes_bus *owner, *a, *b;
	assert_int_equal(hermes_bus_create(bus_name, 4 << 20, 0600, &owner), HERMES_OK);
	hermes_ring_config cfg = {.name = "orders", .capacity = 1 << 16, .max_msg = 1024};
	assert_int_equal(hermes_ring_create(owner, &cfg), HERMES_OK);
	assert_int_equal(hermes_ring_create(owner, &cfg), HERMES_EEXIST);
	assert_int_equal(hermes_bus_attach(bus_name, &a), HERMES_OK);
	assert_int_equal(hermes_bus_attach(bus_name, &b), HERMES_OK);
	assert_true(hermes_bus_id(owner) != 0);
	assert_int_equal(hermes_bus_id(a), hermes_bus_id(owner));

	hermes_sub *sub;
	hermes_pub *pub;
	assert_int_equal(hermes_sub_open(b, "orders", HERMES_START_LATEST, 0, &sub), HERMES_OK);
	assert_int_equal(hermes_pub_open(a, "orders", &pub), HERMES_OK);
	uint64_t seq;
	assert_int_equal(hermes_pub_send(pub, "hello", 5, &seq), HERMES_OK);
	assert_int_equal(seq, 0);
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_OK);
	assert_int_equal(m.len, 5);
	assert_memory_equal(m.data, "hello", 5);
	assert_int_equal(hermes_sub_release(sub), HERMES_OK);

	hermes_pub *nope;
	assert_int_equal(hermes_pub_open(a, "missing", &nope), HERMES_ENOENT);
	assert_non_null(strstr(hermes_last_error_detail(), "missing"));

	hermes_pub_close(pub);
	hermes_sub_close(sub);
	hermes_bus_detach(a);
	hermes_bus_detach(b);
	hermes_bus_detach(owner);
}

static void test_segment_file_has_the_requested_mode(void **state)
{
	(void)state;
	hermes_bus *bus;
	assert_int_equal(hermes_bus_create(bus_name, 1 << 20, 0640, &bus), HERMES_OK);
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/hermes.%s", bus_name);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	hermes_bus_detach(bus);
	hermes_bus *w;
	char other[64];
	ht_unique_name(other, sizeof other, "ww");
	assert_int_equal(hermes_bus_create(other, 1 << 20, 0666, &w), HERMES_EINVAL);
	assert_non_null(strstr(hermes_last_error_detail(), "world-writable"));
}

static void test_second_create_of_same_bus_is_refused(void **state)
{
	(void)state;
	hermes_bus *bus, *again;
	assert_int_equal(hermes_bus_create(bus_name, 1 << 20, 0600, &bus), HERMES_OK);
	assert_int_equal(hermes_bus_create(bus_name, 1 << 20, 0600, &again), HERMES_EEXIST);
	hermes_bus_detach(bus);
}

static void test_missing_bus_is_enoent_with_a_hint(void **state)
{
	(void)state;
	hermes_bus *bus;
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_ENOENT);
	assert_non_null(strstr(hermes_last_error_detail(), "hermesd"));
	assert_int_equal(hermes_bus_attach("bad/name", &bus), HERMES_EINVAL);
}

static void test_garbage_segment_is_refused(void **state)
{
	(void)state;
	uint8_t junk[8192];
	uint64_t rnd = 42;
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)ht_rand(&rnd);
	write_raw_segment(junk, sizeof junk);
	hermes_bus *bus;
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_EBADSEGMENT);
	assert_non_null(strstr(hermes_last_error_detail(), "not a Hermes segment"));
}

static void test_empty_and_short_files_are_refused(void **state)
{
	(void)state;
	hermes_bus *bus;
	write_raw_segment(NULL, 0);
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_ENOTREADY);
	uint8_t few[100] = {0};
	write_raw_segment(few, sizeof few);
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_ETRUNCATED);
	/* A header-sized file of zeros: no magic, "not ready" (not garbage). */
	uint8_t *zeros = calloc(1, HM_SEG_HEADER_SIZE);
	write_raw_segment(zeros, HM_SEG_HEADER_SIZE);
	free(zeros);
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_ENOTREADY);
}

/* Create a real segment, then damage it through a raw mapping. */
static uint8_t *map_raw(size_t *len)
{
	char path[80];
	snprintf(path, sizeof path, "/hermes.%s", bus_name);
	int fd = shm_open(path, O_RDWR, 0);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	void *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	return p;
}

/* A bus (bus_with_ring) with ring "r" of 16 KiB, its segment file mapped raw
 * beside it for the test to damage, and r's directory entry there. */
typedef struct raw_bus {
	hermes_bus *bus;
	uint8_t *raw;
	size_t len;
	hm_ring_desc *d;
} raw_bus;

static void raw_bus_open(raw_bus *rb)
{
	hermes_ring_config cfg = {.name = "r", .capacity = 1 << 14, .max_msg = 512};
	rb->bus = bus_with_ring(&cfg);
	rb->raw = map_raw(&rb->len);
	rb->d = (hm_ring_desc *)(void *)(rb->raw + HM_SEG_HEADER_SIZE);
}

/* Once the test has put everything back, ring r opens again. */
static void raw_bus_close(raw_bus *rb)
{
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(rb->bus, "r", &pub), HERMES_OK);
	hermes_pub_close(pub);
	munmap(rb->raw, rb->len);
	hermes_bus_detach(rb->bus);
}

static void test_foreign_version_and_truncation_are_refused(void **state)
{
	(void)state;
	hermes_bus *bus;
	assert_int_equal(hermes_bus_create(bus_name, 1 << 20, 0600, &bus), HERMES_OK);
	hermes_bus_detach(bus);
	size_t len;
	uint8_t *raw = map_raw(&len);
	hm_seg_header *h = (hm_seg_header *)(void *)raw;
	h->layout_version = 99;
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_EVERSION);
	assert_non_null(strstr(hermes_last_error_detail(), "99"));
	/* Segments of the previous layouts are refused the same way: ring v1's
	 * tail and slot words mean other things, and layout 2 has no tag array
	 * (its data area starts where layout 3 keeps tags). */
	static_assert(HM_LAYOUT_VERSION == 3, "user tags are layout 3");
	for (uint32_t v = 1; v < HM_LAYOUT_VERSION; v++) {
		h->layout_version = v;
		assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_EVERSION);
	}
	h->layout_version = HM_LAYOUT_VERSION;
	h->segment_size = (uint64_t)len * 2;
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_ETRUNCATED);
	h->segment_size = len;
	h->max_rings = 3;
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_EBADSEGMENT);
	h->max_rings = HM_MAX_RINGS;
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_OK);
	hermes_bus_detach(bus);
	munmap(raw, len);
}

static void test_corrupt_ring_entries_are_refused_not_followed(void **state)
{
	(void)state;
	raw_bus rb;
	raw_bus_open(&rb);
	uint64_t good = rb.d->offset;
	hermes_pub *pub;
	rb.d->offset = (uint64_t)rb.len - 64; /* the block would run off the end */
	assert_int_equal(hermes_pub_open(rb.bus, "r", &pub), HERMES_EBADSEGMENT);
	rb.d->offset = good;
	hm_ring_header *rh = (hm_ring_header *)(void *)(rb.raw + good);
	rh->capacity = 12345; /* not a power of two */
	assert_int_equal(hermes_pub_open(rb.bus, "r", &pub), HERMES_EBADSEGMENT);
	rh->capacity = 1 << 14;
	rh->magic = 0;
	assert_int_equal(hermes_pub_open(rb.bus, "r", &pub), HERMES_EBADSEGMENT);
	rh->magic = HM_RING_MAGIC;
	raw_bus_close(&rb);
}

/* Every offset and size in a directory entry is checked, overflow-safe,
 * before anything is followed: out of range, wrapping, unaligned, an unknown
 * state. */
static void test_directory_offsets_sizes_and_alignment_are_validated(void **state)
{
	(void)state;
	raw_bus rb;
	raw_bus_open(&rb);
	const uint64_t good_off = rb.d->offset, good_size = rb.d->block_size;
	const struct {
		uint64_t off, size;
	} bad[] = {
		{good_off + 16, good_size},		 /* in range, not page aligned */
		{good_off + 8, good_size},		 /* not even 16-byte aligned (cmpxchg16b) */
		{UINT64_MAX - 4095, good_size},		 /* off + size wraps */
		{good_off, UINT64_MAX - 4095},		 /* size wraps */
		{good_off + 3 * 1024 * 1024, good_size}, /* 3 MiB past the segment */
		{0, good_size},				 /* over the header */
		{HM_SEG_HEADER_SIZE, good_size},	 /* over the directory */
		{good_off, 0},				 /* no room for a header */
	};
	hermes_pub *pub;
	hm_ring r;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rb.d->offset = bad[i].off;
		rb.d->block_size = bad[i].size;
		if (hermes_pub_open(rb.bus, "r", &pub) != HERMES_EBADSEGMENT)
			fail_msg("case %zu: offset %llu size %llu accepted", i,
				 (unsigned long long)bad[i].off, (unsigned long long)bad[i].size);
		assert_non_null(strstr(hermes_last_error_detail(), "corrupt"));
		assert_int_equal(hm_bus_ring_open_index(rb.bus, 0, true, &r), HERMES_EBADSEGMENT);
	}
	rb.d->offset = good_off;
	rb.d->block_size = good_size;
	hm_store_relaxed_u32(&rb.d->state, 77);
	hm_ring_entry e;
	assert_int_equal(hm_bus_ring_entry(rb.bus, 0, &e), HERMES_EBADSEGMENT);
	assert_true(e.corrupt);
	assert_non_null(strstr(hermes_last_error_detail(), "unknown state"));
	hm_store_relaxed_u32(&rb.d->state, HM_RING_READY);
	/* An unterminated, unprintable name is copied bounded and printable. */
	memset(rb.d->name, 0x07, sizeof rb.d->name);
	assert_int_equal(hm_bus_ring_entry(rb.bus, 0, &e), HERMES_OK);
	assert_int_equal(strlen(e.name), HM_NAME_MAX - 1);
	assert_null(strchr(e.name, 0x07));
	snprintf(rb.d->name, sizeof rb.d->name, "r");
	raw_bus_close(&rb);
}

/* The allocator's word is shared memory too: near 2^64 it must not wrap
 * into a write below the mapping, and it must never hand out a live ring's
 * space. */
static void test_corrupt_allocator_is_refused(void **state)
{
	(void)state;
	hermes_ring_config cfg = {.name = "r", .capacity = 1 << 14, .max_msg = 512};
	hermes_bus *bus = bus_with_ring(&cfg);
	const uint64_t ring_off = bus->dir[0].offset;
	const uint64_t good = hm_load_relaxed_u64(&bus->hdr->alloc_next);
	const uint64_t bad[] = {UINT64_MAX - (1u << 20) + 1, /* off + need wraps to below the map */
				UINT64_MAX - 4095, 12345, 0, ring_off /* a live ring */};
	cfg.name = "s";
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		hm_store_relaxed_u64(&bus->hdr->alloc_next, bad[i]);
		if (hermes_ring_create(bus, &cfg) != HERMES_EBADSEGMENT)
			fail_msg("case %zu: alloc_next %llu accepted", i, (unsigned long long)bad[i]);
		assert_non_null(strstr(hermes_last_error_detail(), "allocator"));
		/* Nothing was claimed: the descriptor went back to free. */
		assert_int_equal(hm_load_relaxed_u32(&bus->dir[1].state), HM_RING_FREE);
	}
	hm_store_relaxed_u64(&bus->hdr->alloc_next, good);
	assert_int_equal(hermes_ring_create(bus, &cfg), HERMES_OK);
	/* A corrupt ring keeps its name: no second ring of that name is made. */
	bus->dir[0].offset = 3;
	cfg.name = "r";
	assert_int_equal(hermes_ring_create(bus, &cfg), HERMES_EBADSEGMENT);
	bus->dir[0].offset = ring_off;
	hermes_bus_detach(bus);
}

/* A file whose header is self-consistent but which is too small for the
 * ring directory the header promises. */
static void test_segment_too_small_for_its_directory_is_refused(void **state)
{
	(void)state;
	static uint8_t page[4096];
	hm_seg_header *h = (hm_seg_header *)(void *)page;
	h->magic = HM_SEG_MAGIC;
	h->layout_version = HM_LAYOUT_VERSION;
	h->header_size = HM_SEG_HEADER_SIZE;
	h->segment_size = sizeof page;
	h->dir_offset = HM_SEG_HEADER_SIZE;
	h->max_rings = HM_MAX_RINGS;
	write_raw_segment(page, sizeof page);
	hermes_bus *bus;
	assert_int_equal(hermes_bus_attach(bus_name, &bus), HERMES_EBADSEGMENT);
	assert_non_null(strstr(hermes_last_error_detail(), "too small for its ring directory"));
	assert_int_equal(hermes_bus_attach_readonly(bus_name, &bus), HERMES_EBADSEGMENT);
}

/* hm_ring_view refuses a block that is not 16-byte aligned (the tail pair is
 * a cmpxchg16b operand) and a header without a terminated name. */
static void test_ring_view_refuses_misaligned_blocks_and_unterminated_names(void **state)
{
	(void)state;
	hermes_ring_config cfg = {.name = "r", .capacity = 1 << 14, .max_msg = 512};
	size_t size = hm_ring_block_size(cfg.capacity, hm_ring_slots(&cfg));
	uint8_t *mem = aligned_alloc(4096, size + 4096);
	assert_non_null(mem);
	/* A well-formed ring moved 8 bytes (formatting in place would itself
	 * be a misaligned atomic). */
	assert_int_equal(hm_ring_format(mem, size, &cfg), HERMES_OK);
	memmove(mem + 8, mem, size);
	hm_ring r;
	assert_int_equal(hm_ring_view(&r, mem + 8, size), HERMES_EBADSEGMENT);
	assert_non_null(strstr(hermes_last_error_detail(), "aligned"));
	assert_int_equal(hm_ring_format(mem, size, &cfg), HERMES_OK);
	assert_int_equal(hm_ring_view(&r, mem, size), HERMES_OK);
	memset(((hm_ring_header *)(void *)mem)->name, 'x', HM_NAME_MAX);
	assert_int_equal(hm_ring_view(&r, mem, size), HERMES_EBADSEGMENT);
	free(mem);
}

static void test_full_segment_reports_enospc(void **state)
{
	(void)state;
	hermes_bus *bus;
	assert_int_equal(hermes_bus_create(bus_name, 256 << 10, 0600, &bus), HERMES_OK);
	hermes_ring_config cfg = {.name = "big", .capacity = 1 << 20, .max_msg = 512};
	assert_int_equal(hermes_ring_create(bus, &cfg), HERMES_ENOSPC);
	assert_non_null(strstr(hermes_last_error_detail(), "larger size"));
	cfg.capacity = 1 << 15;
	cfg.name = "small";
	assert_int_equal(hermes_ring_create(bus, &cfg), HERMES_OK);
	hermes_bus_detach(bus);
}

static void test_readonly_attach_cannot_publish(void **state)
{
	(void)state;
	hermes_ring_config cfg = {.name = "r", .capacity = 1 << 14, .max_msg = 512};
	hermes_bus *bus = bus_with_ring(&cfg), *ro;
	assert_int_equal(hermes_bus_attach_readonly(bus_name, &ro), HERMES_OK);
	hermes_pub *pub;
	hermes_sub *sub;
	assert_int_equal(hermes_pub_open(ro, "r", &pub), HERMES_EPERM);
	assert_int_equal(hermes_sub_open(ro, "r", HERMES_START_LATEST, 0, &sub), HERMES_EPERM);
	assert_int_equal(hermes_ring_create(ro, &cfg), HERMES_EPERM);
	hermes_bus_detach(ro);
	hermes_bus_detach(bus);
}

/* Attach with hermes_attach_opts expecting `want`; on EINVAL the detail
 * must name `culprit`. */
static void attach_named(const char *app, const char *instance, hermes_err want,
			 const char *culprit)
{
	hermes_attach_opts o = HERMES_ATTACH_OPTS_INIT;
	o.app_name = app;
	o.instance = instance;
	hermes_bus *b = NULL;
	hermes_err err = hermes_bus_attach_opts(bus_name, &o, &b);
	if (err != want)
		fail_msg("name '%s' instance '%s': %s (%s), wanted %s", app ? app : "(null)",
			 instance ? instance : "(null)", hermes_strerror(err), hermes_last_error_detail(),
			 hermes_strerror(want));
	if (culprit && !strstr(hermes_last_error_detail(), culprit))
		fail_msg("detail '%s' does not name %s", hermes_last_error_detail(), culprit);
	hermes_bus_detach(b);
}

/* Names and instances that would break a key=value log line or a label,
 * or are not UTF-8, or too long, are refused before anything is mapped. */
static void test_attach_names_are_checked(void **state)
{
	(void)state;
	hermes_bus *bus;
	assert_int_equal(hermes_bus_create(bus_name, 1 << 20, 0600, &bus), HERMES_OK);
	unsetenv("HERMES_APP_NAME");
	unsetenv("HERMES_APP_INSTANCE");
	attach_named("order-router", "eu-1", HERMES_OK, NULL);
	attach_named("größe.v2", "", HERMES_OK, NULL);
	attach_named("1234567890123456789012345678901", "123456789012345", HERMES_OK, NULL);
	attach_named("12345678901234567890123456789012", NULL, HERMES_EINVAL, "app_name");
	attach_named("ok", "1234567890123456", HERMES_EINVAL, "instance");
	attach_named("", NULL, HERMES_EINVAL, "app_name");
	static const char *const bad[] = {"two words", "a=b", "quo\"te", "back\\slash", "tab\t",
					  "del\x7f", "\xff\xfe", "\xc3", "c1\xc2\x85", "\xed\xa0\x80"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		attach_named(bad[i], NULL, HERMES_EINVAL, "app_name");
		attach_named("ok", bad[i], HERMES_EINVAL, "instance");
	}
	hermes_bus_detach(bus);
}

/* Without a name: $HERMES_APP_NAME (checked, and named in the error), else
 * the program name, whole (the kernel's is cut to 15 bytes). */
static void test_attach_name_defaults_from_environment_then_program(void **state)
{
	(void)state;
	hermes_bus *bus, *b;
	assert_int_equal(hermes_bus_create(bus_name, 1 << 20, 0600, &bus), HERMES_OK);
	unsetenv("HERMES_APP_NAME");
	unsetenv("HERMES_APP_INSTANCE");
	assert_int_equal(hermes_bus_attach(bus_name, &b), HERMES_OK);
	assert_string_equal(hermes_bus_app_name(b), program_invocation_short_name);
	assert_string_equal(hermes_bus_app_instance(b), "");
	hermes_bus_detach(b);

	setenv("HERMES_APP_NAME", "from-env", 1);
	setenv("HERMES_APP_INSTANCE", "7", 1);
	assert_int_equal(hermes_bus_attach(bus_name, &b), HERMES_OK);
	assert_string_equal(hermes_bus_app_name(b), "from-env");
	assert_string_equal(hermes_bus_app_instance(b), "7");
	hermes_bus_detach(b);
	/* The options win over the environment. */
	hermes_attach_opts o = HERMES_ATTACH_OPTS_INIT;
	o.app_name = "explicit";
	assert_int_equal(hermes_bus_attach_opts(bus_name, &o, &b), HERMES_OK);
	assert_string_equal(hermes_bus_app_name(b), "explicit");
	assert_string_equal(hermes_bus_app_instance(b), "7");
	hermes_bus_detach(b);

	setenv("HERMES_APP_NAME", "bad name", 1);
	assert_int_equal(hermes_bus_attach(bus_name, &b), HERMES_EINVAL);
	assert_non_null(strstr(hermes_last_error_detail(), "HERMES_APP_NAME"));
	/* A read-only attach never tells hermesd: a bad variable does not stop it. */
	assert_int_equal(hermes_bus_attach_readonly(bus_name, &b), HERMES_OK);
	hermes_bus_detach(b);
	unsetenv("HERMES_APP_NAME");
	setenv("HERMES_APP_INSTANCE", "x=1", 1);
	assert_int_equal(hermes_bus_attach(bus_name, &b), HERMES_EINVAL);
	assert_non_null(strstr(hermes_last_error_detail(), "HERMES_APP_INSTANCE"));
	unsetenv("HERMES_APP_INSTANCE");
	hermes_bus_detach(bus);
}

/* The options struct grows by its size: a smaller one than the first
 * version, unknown non-zero bytes beyond it, or unknown flags are refused; a
 * larger one with zeros there, and the read-only flag, work. */
static void test_attach_opts_size_and_flags_are_checked(void **state)
{
	(void)state;
	hermes_ring_config cfg = {.name = "r", .capacity = 1 << 14, .max_msg = 512};
	hermes_bus *bus = bus_with_ring(&cfg), *b;
	struct {
		hermes_attach_opts o;
		uint64_t future;
	} big = {.o = HERMES_ATTACH_OPTS_INIT};
	big.o.size = sizeof big;
	assert_int_equal(hermes_bus_attach_opts(bus_name, &big.o, &b), HERMES_OK);
	hermes_bus_detach(b);
	big.future = 1;
	assert_int_equal(hermes_bus_attach_opts(bus_name, &big.o, &b), HERMES_EINVAL);
	assert_non_null(strstr(hermes_last_error_detail(), "does not know"));
	hermes_attach_opts o = HERMES_ATTACH_OPTS_INIT;
	o.size = 8;
	assert_int_equal(hermes_bus_attach_opts(bus_name, &o, &b), HERMES_EINVAL);
	assert_non_null(strstr(hermes_last_error_detail(), "HERMES_ATTACH_OPTS_INIT"));
	o.size = sizeof o;
	o.flags = 0x80;
	assert_int_equal(hermes_bus_attach_opts(bus_name, &o, &b), HERMES_EINVAL);
	o.flags = HERMES_ATTACH_READONLY;
	assert_int_equal(hermes_bus_attach_opts(bus_name, &o, &b), HERMES_OK);
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(b, "r", &pub), HERMES_EPERM);
	hermes_bus_detach(b);
	assert_int_equal(hermes_bus_attach_opts(bus_name, NULL, &b), HERMES_OK);
	assert_string_equal(hermes_bus_app_name(b), program_invocation_short_name);
	hermes_bus_detach(b);
	hermes_bus_detach(bus);
}

static void test_all_producer_slots_taken_is_etoomany(void **state)
{
	(void)state;
	hermes_ring_config cfg = {.name = "r", .capacity = 1 << 14, .max_msg = 512};
	hermes_bus *bus = bus_with_ring(&cfg);
	hermes_pub *pubs[HM_MAX_PRODUCERS];
	for (unsigned i = 0; i < HM_MAX_PRODUCERS; i++)
		assert_int_equal(hermes_pub_open(bus, "r", &pubs[i]), HERMES_OK);
	hermes_pub *extra;
	assert_int_equal(hermes_pub_open(bus, "r", &extra), HERMES_ETOOMANY);
	hermes_pub_close(pubs[7]);
	assert_int_equal(hermes_pub_open(bus, "r", &pubs[7]), HERMES_OK);
	for (unsigned i = 0; i < HM_MAX_PRODUCERS; i++)
		hermes_pub_close(pubs[i]);
	hermes_bus_detach(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_attach_and_exchange_across_handles, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_segment_file_has_the_requested_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_create_of_same_bus_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_bus_is_enoent_with_a_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_segment_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_short_files_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_version_and_truncation_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_ring_entries_are_refused_not_followed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_directory_offsets_sizes_and_alignment_are_validated,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_allocator_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_too_small_for_its_directory_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_ring_view_refuses_misaligned_blocks_and_unterminated_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_segment_reports_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_attach_cannot_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_names_are_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_name_defaults_from_environment_then_program,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_opts_size_and_flags_are_checked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_all_producer_slots_taken_is_etoomany, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
