import string


def to_base(num, base):
    digits = string.digits + string.ascii_uppercase
    result = ""
    while num > 0:
        result = result + digits[num % base]
        num = num // base
    return result or "0"
