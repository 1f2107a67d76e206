/* Rate-limit store in this process's memory. It limits only the requests of one
 * process: a FastCGI pool of N processes lets through up to N times the limit,
 * and a plain CGI process, which serves one request, limits nothing. Meant
 * for one-process setups and tests. Time is CLOCK_MONOTONIC. */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Buckets of the key table, and how many keys are kept before idle ones are pruned. */
#define TABLE_BUCKETS 4096
#define PRUNE_AT_KEYS 65536

typedef struct memory_entry {
	struct memory_entry *next;
	long long *hits;	/* ring of the most recent attempt times, in ms */
	unsigned capacity;	/* the rule's count when the entry was made */
	unsigned used;
	unsigned oldest;	/* index of the oldest kept attempt */
	long long expires_ms;	/* last attempt + window: idle after this */
	char key[];
} memory_entry;

typedef struct memory_limiter {
	edge_limiter base;
	memory_entry *buckets[TABLE_BUCKETS];
	size_t key_count;
	size_t prune_at;	/* key count that triggers the next prune */
} memory_limiter;

static long long
monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static size_t
hash_key(const char *key)
{
	size_t hash = 14695981039346656037ULL;	/* FNV-1a */

	for (; *key != '\0'; key++)
		hash = (hash ^ (unsigned char)*key) * 1099511628211ULL;
	return hash % TABLE_BUCKETS;
}

static void
prune_idle(memory_limiter *limiter, long long now)
{
	for (size_t i = 0; i < TABLE_BUCKETS; i++) {
		memory_entry **link = &limiter->buckets[i];

		while (*link != NULL) {
			memory_entry *entry = *link;

			if (entry->expires_ms > now) {
				link = &entry->next;
				continue;
			}
			*link = entry->next;
			free(entry->hits);
			free(entry);
			limiter->key_count--;
		}
	}
}

static memory_entry *
find_or_add(memory_limiter *limiter, const char *key, unsigned capacity)
{
	size_t bucket = hash_key(key), key_len = strlen(key);
	memory_entry *entry;

	for (entry = limiter->buckets[bucket]; entry != NULL; entry = entry->next)
		if (strcmp(entry->key, key) == 0)
			break;

	/* A changed rule would change the ring's size: start that key afresh. */
	if (entry != NULL && entry->capacity == capacity)
		return entry;
	if (entry != NULL) {
		entry->used = 0;
		entry->oldest = 0;
		long long *hits = realloc(entry->hits, capacity * sizeof(*hits));
		if (hits == NULL)
			return NULL;
		entry->hits = hits;
		entry->capacity = capacity;
		return entry;
	}

	entry = calloc(1, sizeof(*entry) + key_len + 1);
	if (entry == NULL)
		return NULL;
	entry->hits = calloc(capacity, sizeof(*entry->hits));
	if (entry->hits == NULL) {
		free(entry);
		return NULL;
	}
	entry->capacity = capacity;
	memcpy(entry->key, key, key_len + 1);
	entry->next = limiter->buckets[bucket];
	limiter->buckets[bucket] = entry;
	limiter->key_count++;
	return entry;
}

/* Counts the kept attempts inside the window and the oldest of them. */
static unsigned
count_in_window(const memory_entry *entry, long long now, long long window,
    long long *oldest_counted)
{
	unsigned in_window = 0;

	*oldest_counted = now;
	for (unsigned i = 0; i < entry->used; i++) {
		long long hit = entry->hits[(entry->oldest + i) % entry->capacity];

		if (now - hit < window && in_window++ == 0)
			*oldest_counted = hit;
	}
	return in_window;
}

static void
fill_decision(const edge_rate_rule *rule, unsigned in_window,
    long long oldest_counted, long long now, long long window,
    edge_rate_decision *decision)
{
	decision->limit = rule->count;
	decision->remaining = in_window >= rule->count ? 0 : rule->count - in_window;
	decision->reset_s = (unsigned)((oldest_counted + window - now + 999) / 1000);
	if (decision->reset_s == 0)
		decision->reset_s = 1;
	decision->retry_after_s = decision->reset_s;
	decision->store_failed = false;
}

static edge_err
memory_hit(edge_limiter *base, const char *key, const edge_rate_rule *rule,
    edge_rate_decision *decision)
{
	memory_limiter *limiter = (memory_limiter *)base;
	long long now = monotonic_ms(), window = (long long)rule->window_s * 1000;
	long long oldest_counted;
	unsigned newest_slot;
	memory_entry *entry;

	/* When every key is busy a prune frees nothing: wait for twice as many
	 * keys before scanning again, so the cost stays amortized. */
	if (limiter->key_count >= limiter->prune_at) {
		prune_idle(limiter, now);
		limiter->prune_at = limiter->key_count * 2 > PRUNE_AT_KEYS ?
		    limiter->key_count * 2 : PRUNE_AT_KEYS;
	}
	entry = find_or_add(limiter, key, rule->count);
	if (entry == NULL)
		return EDGE_ERR_NOMEM;

	decision->allowed = count_in_window(entry, now, window,
	    &oldest_counted) < rule->count;

	/* Record the attempt, dropping the oldest when the ring is full. */
	if (entry->used < entry->capacity) {
		newest_slot = (entry->oldest + entry->used) % entry->capacity;
		entry->used++;
	} else {
		newest_slot = entry->oldest;
		entry->oldest = (entry->oldest + 1) % entry->capacity;
	}
	entry->hits[newest_slot] = now;
	entry->expires_ms = now + window;

	fill_decision(rule, count_in_window(entry, now, window, &oldest_counted),
	    oldest_counted, now, window, decision);
	return EDGE_OK;
}

static edge_err
memory_peek(edge_limiter *base, const char *key, const edge_rate_rule *rule,
    edge_rate_decision *decision)
{
	memory_limiter *limiter = (memory_limiter *)base;
	long long now = monotonic_ms(), window = (long long)rule->window_s * 1000;
	long long oldest_counted = now;
	unsigned in_window = 0;
	memory_entry *entry;

	for (entry = limiter->buckets[hash_key(key)]; entry != NULL;
	    entry = entry->next)
		if (strcmp(entry->key, key) == 0)
			break;
	if (entry != NULL)
		in_window = count_in_window(entry, now, window, &oldest_counted);
	decision->allowed = in_window < rule->count;
	fill_decision(rule, in_window, oldest_counted, now, window, decision);
	return EDGE_OK;
}

static void
memory_destroy(edge_limiter *base)
{
	memory_limiter *limiter = (memory_limiter *)base;

	for (size_t i = 0; i < TABLE_BUCKETS; i++) {
		memory_entry *entry = limiter->buckets[i];

		while (entry != NULL) {
			memory_entry *next = entry->next;

			free(entry->hits);
			free(entry);
			entry = next;
		}
	}
	free(limiter);
}

static const edge_limiter_ops memory_ops = {
	.name = "memory",
	.hit = memory_hit,
	.peek = memory_peek,
	.destroy = memory_destroy,
};

edge_err
edge_limiter_memory_open(edge_limiter **limiter)
{
	memory_limiter *created = calloc(1, sizeof(*created));

	if (created == NULL)
		return EDGE_ERR_NOMEM;
	created->base.ops = &memory_ops;
	created->prune_at = PRUNE_AT_KEYS;
	*limiter = &created->base;
	return EDGE_OK;
}
