"""Inspector assignment (人员分派): the random draw (双随机) and replacements."""
