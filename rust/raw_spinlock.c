// SPDX-License-Identifier: GPL-2.0
/*
 * raw_spinlock_t for the Rust side: the 7.3 kernel crate has spinlock_t and
 * mutex backends only, and the raw_spin_lock_*() API is macros and inline
 * functions. A raw spinlock spins on every kernel, PREEMPT_RT included, so it
 * is the lock for code that stays in hard-IRQ context there. Their Rust
 * declarations are in rust/ffi.rs.
 */

#include <linux/lockdep.h>
#include <linux/spinlock.h>

void irqlock_raw_spin_lock_init(raw_spinlock_t *lock, const char *name,
				struct lock_class_key *key);
unsigned long irqlock_raw_spin_lock_irqsave(raw_spinlock_t *lock);
int irqlock_raw_spin_trylock_irqsave(raw_spinlock_t *lock,
				     unsigned long *flags);
void irqlock_raw_spin_unlock_irqrestore(raw_spinlock_t *lock,
					unsigned long flags);
void irqlock_raw_spin_assert_held(raw_spinlock_t *lock);

void irqlock_raw_spin_lock_init(raw_spinlock_t *lock, const char *name,
				struct lock_class_key *key)
{
#ifdef CONFIG_DEBUG_SPINLOCK
	__raw_spin_lock_init(lock, name, key, LD_WAIT_SPIN);
#else
	raw_spin_lock_init(lock);
#endif
}

unsigned long irqlock_raw_spin_lock_irqsave(raw_spinlock_t *lock)
{
	unsigned long flags;

	raw_spin_lock_irqsave(lock, flags);
	return flags;
}

int irqlock_raw_spin_trylock_irqsave(raw_spinlock_t *lock,
				     unsigned long *flags)
{
	return raw_spin_trylock_irqsave(lock, *flags);
}

void irqlock_raw_spin_unlock_irqrestore(raw_spinlock_t *lock,
					unsigned long flags)
{
	raw_spin_unlock_irqrestore(lock, flags);
}

void irqlock_raw_spin_assert_held(raw_spinlock_t *lock)
{
	lockdep_assert_held(lock);
}
