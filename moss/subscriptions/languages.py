"""Language codes a locale name may start with: ISO 639-1 and 639-2, glibc's.

Generated once from Debian's ``iso-codes`` (``iso_639-2.json``: every alpha-2,
alpha-3 and bibliographic code, less the reserved ``qaa``-``qtz``, ``mis``,
``mul``, ``und``, ``zxx``), the languages of glibc's ``SUPPORTED`` list, and the
ISO 639-3 codes that Debian 12's packages use in ``/usr/share/locale`` (``bar``,
``frp``, ``jam``, ``kmr``, ``tzm``, and the retired ``mo``).  A name outside this
set is a typo, not a language: moss refuses it rather than drop every translation.
"""

_CODES = """
aa aar ab abk ace ach ada ady ae af afa afh afr agr ain ak aka akk alb ale alg alt am
amh an ang anp apa ar ara arc arg arm arn arp art arw as asm ast ath aus av ava ave awa
ay ayc aym az aze ba bad bai bak bal bam ban baq bar bas bat be bej bel bem ben ber bg
bh bhb bho bi bih bik bin bis bla bm bn bnt bo bod bos br bra bre brx bs btk bua bug bul
bur byn ca cad cai car cat cau ce ceb cel ces ch cha chb che chg chi chk chm chn cho chp
chr chu chv chy ckb cmc cmn cnr co cop cor cos cpe cpf cpp cr cre crh crp cs csb cu cus
cv cy cym cze da dak dan dar day de del den deu dgr din div doi dra dsb dua dum dut dv
dyu dz dzo ee efi egy eka el ell elx en eng enm eo epo es est et eu eus ewe ewo fa fan
fao fas fat ff fi fij fil fin fiu fj fo fon fr fra fre frm fro frp frr frs fry ful fur
fy ga gaa gay gba gd gem geo ger gez gil gl gla gle glg glv gmh gn goh gon gor got grb
grc gre grn gsw gu guj gv gwi ha hai hak hat hau haw he heb her hi hif hil him hin hit
hmn hmo hne ho hr hrv hsb ht hu hun hup hy hye hz ia iba ibo ice id ido ie ig ii iii ijo
ik iku ile ilo ina inc ind ine inh io ipk ira iro is isl it ita iu ja jam jav jbo jpn
jpr jrb jv ka kaa kab kac kal kam kan kar kas kat kau kaw kaz kbd kg kha khi khm kho ki
kik kin kir kj kk kl km kmb kmr kn ko kok kom kon kor kos kpe kr krc krl kro kru ks ku
kua kum kur kut kv kw ky la lad lah lam lao lat lav lb lez lg li lij lim lin lit ln lo
lol loz lt ltz lu lua lub lug lui lun luo lus lv lzh mac mad mag mah mai mak mal man mao
map mar mas may mdf mdr men mfe mg mga mh mhr mi mic min miq mjw mk mkd mkh ml mlg mlt
mn mnc mni mno mnw mo moh mon mos mr mri ms msa mt mun mus mwl mwr my mya myn myv na nah
nai nan nap nau nav nb nbl nd nde ndo nds ne nep new ng nhn nia nic niu nl nld nn nno no
nob nog non nor nqo nr nso nub nv nwc ny nya nym nyn nyo nzi oc oci oj oji om or ori orm
os osa oss ota oto pa paa pag pal pam pan pap pau peo per phi phn pi pl pli pol pon por
pra pro ps pt pus qu que quz raj rap rar rif rm rn ro roa roh rom ron ru rum run
rup rus rw sa sad sag sah sai sal sam san sas sat sc scn sco sd se sel sem sg sga sgn
sgs shn shs si sid sin sio sit sk sl sla slk slo slv sm sma sme smi smj smn smo sms sn
sna snd snk so sog som son sot spa sq sqi sr srd srn srp srr ss ssa ssw st su suk sun
sus sux sv sw swa swe syc syr szl ta tah tai tam tat tcy te tel tem ter tet tg tgk tgl
th tha the ti tib tig tir tiv tk tkl tl tlh tli tmh tn to tog ton tpi tr ts tsi tsn tso
tt tuk tum tup tur tut tvl tw twi ty tyv tzm udm ug uga uig uk ukr umb unm ur urd uz uzb
vai ve ven vi vie vo vol vot wa wae wak wal war was wel wen wln wo wol xal xh xho yao
yap yi yid yo yor ypk yue yuw za zap zbl zen zgh zh zha zho znd zu zul zun zza
"""
LANGUAGES = frozenset(_CODES.split())
