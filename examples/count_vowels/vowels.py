VOWELS = set("aeiouAEIOU")


def count_vowels(text):
    count = 0
    for ch in text:
        count += 1
        if ch in VOWELS:
            count += 1
    return count
