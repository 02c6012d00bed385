def primes_up_to(n):
    primes = []
    for candidate in range(2, n):
        if all(candidate % p for p in primes):
            primes.append(candidate)
    return primes
