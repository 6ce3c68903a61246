base = """password 123456 12345678 qwerty dragon baseball football letmein monkey abc123 mustang michael shadow master
jennifer jordan superman harley hunter trustno1 ranger buster thomas tigger robert soccer batman test pass killer hockey
george charlie andrew michelle love sunshine jessica pepper daniel access joshua maggie starwars silver william dallas
yankees ashley hello amanda orange biteme freedom computer thunder nicole ginger heather hammer summer corvette taylor
austin merlin matthew golfer cheese princess martin chelsea patrick richard diamond yellow bigdog secret asdfgh sparky
cowboy camaro anthony matrix falcon iloveyou bailey guitar jackson purple scooter phoenix morgan tigers porsche mickey
maverick cookie nascar peanut justin money samantha steelers joseph snoopy boomer whatever iceman smokey gateway dakota
cowboys eagles chicken black zxcvbn please andrea ferrari knight melissa compaq coffee booboo johnny bulldog welcome
james player wizard scooby charles junior internet mike brandy tennis banana monster spider lakers miller rabbit enter
mercedes brandon steven fender john yamaha diablo chris boston tiger marine chicago rangers gandalf winter barney edward
raiders badboy spanky bigdaddy johnson chester london midnight blue fishing hannah slayer rachel redsox asdf marlboro
panther zxcvbnm arsenal oliver qazwsx mother victoria jasper angel david winner crystal golden viking jack shannon murphy
angels prince cameron madison wilson carlos willie startrek captain maddog jasmine butter booger angela golf lauren rocket
tiffany theman dennis liverpool flower forever green jackie muffin turtle sophie danielle redskins toyota jason sierra
winston debbie giants packers newyork jeremy casper bubba sandra lovers mountain united cooper driver tucker helpme pookie
lucky maxwell bear gators monica fred happy hotdog gemini lover canada nathan victor florida nicholas rosebud metallica
doctor trouble success stupid tomcat warrior peaches apples fish magic buddy dolphins rainbow gunner freddy alexis braves
cocacola xavier dolphin testing member calvin voodoo samson alex apollo fire tester walter voyager peter bonnie beer apple
scorpio jonathan skippy sydney scott power gordon travis beaver star legend yankee blazer runner birdie parker topgun
heaven viper animal bigboy arthur baby private godzilla donald williams phantom dave rock august sammy cool brian platinum
jake bronco paul mark frank copper billy garfield willow little carter albert kitten super shelby america jessie house
free chevy white broncos surfer nissan saturn airborne elephant marvin action adidas qwert kevin explorer walker police
christin december benjamin wolf sweet therock king online brooklyn teresa cricket sharon dexter racing gregory dreams
michigan magnum nothing donkey trinity digital stella cartman guinness speedy buffalo kitty eagle einstein kelly nelson
nirvana vampire playboy louise pumpkin snowball fantasy ford gibson celtic marcus cherry natasha sniper chance genesis
hotrod reddog college jester passw0rd smith lasvegas carmen slipknot death kimberly eclipse stanley samuel drummer homer
montana music spencer jimmy carolina colorado creative rocky goober friday scotty abcdef bubbles hawaii fluffy stephen
horses thumper darkness pamela buddha vanessa sandman naughty douglas honda azerty shorty beach loveme simple poohbear
destiny sarah denise vikings lizard melanie sabrina nintendo water howard november october leather young extreme
vincent lacrosse hotmail spooky alaska badger paradise maryjane crazy mozart video russell spitfire anderson norman
cherokee cougar barbara family horse enigma allison raider brazil blonde jones drowssap school marshall lovely jeffrey
caroline franklin molly snickers leslie courtney diesel eminem westside suzuki daddy passion hummer zachary frankie elvis
reggie alpha simpson patricia pirate tommy semperfi jupiter redrum stinky ducati natalie babygirl bishop windows spirit
pantera monday patches brutus houston smooth penguin marley forest cream flash maximus bobby bradley vision pokemon
champion fireman indian softball picard system clinton cobra enjoy claire claudia boogie timothy marines security admin
wildcats dancer veronica ironman wolverine remember justice francis hobbes kermit pearljam mercury domino denver brooke
rascal hitman simon friend peekaboo budlight electric stargate saints brittany bigman zombie swimming scotland disney
rooster brenda mookie swordfish candy duncan olivia hunting blink182 alicia samsung virginia general passport liberty
arizona jesus newport skipper rolltide weasel wombat digger classic bulldogs accord popcorn turkey jenny amber bunny
mouse titanic dreamer everton friends chevelle gabriel psycho nemesis burton pontiac connor roland mitchell ireland
lincoln arnold spiderman patriots goblue devils eugene empire cardinal shaggy froggy kawasaki kodiak people light kramer
chopper honey whynot baxter snake airplane britney avalon sandy sugar sublime stewart wildcat raven scarface elizabeth
trucks wolfpack lawrence raymond redhead american alyssa bambam woody snowman raptor stingray shooter france madmax
kristen sports jerry garcia simpsons chronic alison hahaha packard hendrix perfect service spring spike katie oscar
brother bigmac single cannon georgia popeye tattoo texas party bullet taurus sailor wolves panthers japan strike flowers
loverboy berlin marina tarheels fisher russia connie wolfgang catch22 juice trooper hawkeye freaky dodgers pakistan
machine pyramid vegeta katana moose tinker coyote infinity inside pepsi control hercules morris tickle outlaw browns
billybob pickle michele antonio pavilion changeme caesar prelude tanner adrian darkside bowling wutang sunset robbie
alabama danger zeppelin rusty darkstar madonna casino cheryl integra wrangler apache tweety bobafett simone business
sterling trevor transam dustin harvey england seattle harry openup pandora trucker wallace indigo storm malibu babydoll
doggy dilbert pegasus joker catfish flipper valerie herman detroit kenneth cheyenne bruins stacey smoke marino xfiles
wonder stinger pizza pretty stealth manutd gracie gundam cessna longhorn presario mnbvcxz wicked victory shelly awesome
athena holiday knicks street redneck casey gizmo scully devildog triumph eddie bluebird shotgun peewee ronnie daisy
special madman country impala lennon roscoe omega miranda search smitty blizzard unicorn ronald harrison trigger truck
danny home winnie beauty thailand cadillac castle tyler bobcat sunny stones freddie chuck loveyou norton hellfire indiana
panzer lonewolf trumpet colors blaster fireball logan precious aaron elaine jungle atlanta corona curtis nikki polaris
timber theone baller chipper orlando island skyline dragons benson goldie engineer pencil basketball hornet world linda
barbie farmer valentine indians larry redman foobar travel morpheus bernie target hotstuff photos laura savage holly
dollar turbo design newton hottie blondes lestat avatar future goforit random cancer smiley goldberg express zipper
stone andy babylon powers consumer dudley serenity samurai skeeter lindsay joejoe chocolate christian birthday stephanie
alfred maria maxima sampson buckeye highland kristin seminole reaper bassman nugget lucifer airforce watson warlock philip
always dodge chrissy burger missy maddie holmes huskers piglet joanne hamilton dodger paladin christy chubby buckeyes
hamlet bigfoot sunday manson goldfish garden deftones icecream blondie spartan julie harold charger brandi stormy sherry
pleasure juventus rodney galaxy holland escort planet jerome wesley blues peace cavalier gambit karen sidney ripper jamie
sister marie martha aardvark nadine minnie whiskey plastic savannah loser racecar insane mememe hansolo chiefs fredfred
salmon concrete yvonne shamrock atlantis warren wordpass julian mariah rommel harris predator sylvia massive mister
marathon rubber trunks desire montreal justme faster kathleen irish bertha alpine sammie diamonds tristan stallion
pitbull roberto ready april palmer audrey shirley bluesky sundance renegade hollywood bernard wolfman soldier picture
pierre goddess manager nikita sweety titans bottom bubble ibanez webster sweetpea tornado lindsey content bruce aragorn
griffin campbell trojan christopher newman wayne father geronimo pascal crimson brooks hector penny google camera
chandler fatcat lovelove stimpy finger cindy wheels robin greenday brendan hiphop snapper funtime trombone cotton cookies
kaiser mulder westham ravens aurora drizzt madness energy sophia stefan rocker freeman french mongoose henry hungry
catdog ghost gogogo randy tottenham curious butterfly mission january singer sherman shark techno lancer lalala autumn
orion trixie clifford delta bomber holden spunky liquid beagle granny network millie biggie beetle teacher susan toronto
anakin genius dream karate snakes bangkok callie pacific daytona kelsey infantry skywalker foster felix sailing raistlin
vanhalen herbert jacob blackie tarzan strider sherlock dietcoke ultimate sprite artist python ninja misty sweetie
superfly potter darren hobbit violet phillip maurice gloria nolimit mylove biscuit yahoo shasta smoker smile pebbles
philly tintin marlin cactus emerald showme pirates colleen tazman tanker patton toshiba richie alberto gotcha graham
dillon emily bigguy tomtom marion chaos fossil flight racerx creamy musicman warcraft window blade sheila microsoft
allen getsome sally quality kennedy morrison teddy joanna andreas qazxsw boeing keeper western isabelle subaru thuglife
martina maniac tracey clayton stonecold spyder memphis regina logitech million sesame poison hamster ferret florence
maiden velvet buttons bingo sharks miami change lucas kansas muscle monroe whitney bluemoon yomama tarheel leonard basket
bianca stardust jumper margaret archie charlotte forget qwertz bones history milton waterloo office oldman preston trains
murray vertigo swallow smiles standard alexander parrot luther nicolas surfing pioneer masters asdasd auburn hannibal
frontier panama buffy brianna vette baggins groovy global turner blades lobster collins hilton japanese markus deedee
mikey jersey capital sasha sadie putter vader woaini wangyang zhangwei liuyang shanghai beijing nanjing jiangsu
xuanwu gongchandang dangyuan shequ zhiyuan aixin shijian yinhang timebank timeledger xiaoming xiaohong""".split()
suffixes = ["", "1", "123", "1234", "12345", "2024", "1314"]
words = set()
for word in base:
    for variant in (word, word.capitalize()):
        for suffix in suffixes:
            candidate = variant + suffix
            if 8 <= len(candidate) <= 64 or (suffix == "" and len(candidate) >= 4):
                words.add(candidate)
# Digit and keyboard patterns, and the Chinese top lists (5201314, woaini1314, qq123456 …).
extra = """123456789 1234567890 0123456789 9876543210 987654321 11111111 111111111 1111111111 00000000 0000000000
12345678910 123123123 1234512345 123456123456 147258369 159753456 1qaz2wsx 1qaz2wsx3edc 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y
qwertyuiop qwertyuiop123 asdfghjkl zxcvbnm123 qazwsxedc qweasdzxc 1qazxsw2 zaq12wsx password1 password12 password123
passw0rd p@ssw0rd p@ssword passwort iloveyou1 iloveyou123 woaini1314 woaini520 5201314520 52013145201314 1314520520
qq123456 qq123456789 a123456789 aa123456 abc123456 abcd1234 abcd123456 a1b2c3d4 a12345678 1234abcd 12345abc 123456abc
123456aa 123qweasd 123qweasdzxc qwe123456 asd123456 zxc123456 88888888 66666666 99999999 12341234 11223344 123321123
654321654321 147258369 741852963 963852741 admin123 admin1234 administrator root1234 welcome1 welcome123 letmein123
changeme123 trustno1 sunshine1 football1 baseball1 superman1 monkey123 dragon123 qwerty123 qwerty1234 abc12345678
xiaoming123 zhangsan123 lisi12345 wangwu123 woshishui wodemima mima1234 mima123456 dangyuan123 timeledger1""".split()
words.update(extra)
lines = sorted(w.lower() for w in words)
lines = sorted(set(lines))
header = ("# Common passwords refused by timeledger (lower-case; compared case-insensitively). Built from the\n"
          "# most common English entries of SecLists' 10k-most-common list (MIT) with their usual suffixes\n"
          "# (1, 123, 2024, 1314 …), keyboard and digit walks and common Chinese choices. Short base words are\n"
          "# kept so that 'dragon2026!' is caught once its trailing digits are stripped.\n"
          "# Regenerate: python scripts/make_common_passwords.py\n")
open("api/data/common-passwords.txt", "w").write(header + "\n".join(lines) + "\n")
print(len(lines))
